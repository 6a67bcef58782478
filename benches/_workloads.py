"""The workloads as one system's process runs them: the sizes of a run
(`Scale`), and `Session`, which times one repetition of a workload.

A `Session` lives in a system's own process (``_worker.py``): it makes each
data set once, keeps the fitted mnist model for the predict workloads, and
returns plain dicts (seconds, samples, score, FLOPs, details) that
``compare.py`` collects.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from functools import cache

import _data
import _defaults
import numpy as np
from _systems import Hyper, make_estimator

MNIST_SIZES = (784, 256, 128, 10)
#: Batch predict calls per repetition, of which the median is reported.
BATCH_PREDICT_CALLS = 5
MNIST_HYPER = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1)

#: Systems whose first fit of a shape compiles; one untimed fit of each
#: workload comes before their repetitions (steady state is what is timed).
COMPILING_SYSTEMS = ("jax",)


@dataclass(frozen=True)
class Scale:
    """Sizes of one run: the full benchmark or the ``--quick`` smoke run."""

    name: str
    reps: int
    tiny_epochs: int
    small_epochs: int
    mnist_rows: int
    test_rows: int
    predict_rows: int
    predict_calls: int
    search_grid: dict
    search_cv: int
    search_epochs: int
    linearity_rows: tuple[int, ...]
    oversubscription_rows: int


FULL = Scale(
    name="full",
    reps=5,
    tiny_epochs=200,
    small_epochs=30,
    mnist_rows=60_000,
    test_rows=10_000,
    predict_rows=10_000,
    predict_calls=300,
    search_grid={
        "net__hidden_layer_sizes": [(32,), (64,), (64, 32)],
        "net__learning_rate_init": [1e-3, 1e-2],
        "net__batch_size": [32, 128],
    },
    search_cv=5,
    search_epochs=50,
    linearity_rows=(15_000, 30_000, 60_000),
    oversubscription_rows=12_000,
)

QUICK = Scale(
    name="quick",
    reps=3,
    tiny_epochs=40,
    small_epochs=6,
    mnist_rows=6_000,
    test_rows=2_000,
    predict_rows=2_000,
    predict_calls=50,
    search_grid={"net__hidden_layer_sizes": [(32,), (64,)], "net__learning_rate_init": [1e-2]},
    search_cv=3,
    search_epochs=5,
    linearity_rows=(1_500, 3_000, 6_000),
    oversubscription_rows=3_000,
)


def train_flops_per_sample(sizes) -> int:
    """FLOPs of one training sample: forward, weight gradients, and the
    back-propagated deltas of every layer but the first (2 per multiply-add)."""
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * (2 * sum(products) + sum(products[1:]))


def forward_flops_per_sample(sizes) -> int:
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def variants(workload: str, scale: Scale, threads: int) -> list[str]:
    """The fnn configurations compared by the fnn-only workloads (labels)."""
    if workload == "threads":
        counts = sorted({1, threads})
        return [
            f"fnn, {n} thread{'s' if n > 1 else ''}, alpha={alpha:g}"
            for alpha in (1e-4, 0.0)
            for n in counts
        ]
    if workload == "dtype":
        return ["float32", "float64"]
    if workload == "linearity":
        return [f"{n} rows" for n in scale.linearity_rows]
    raise ValueError(f"{workload!r} has no fnn variants")


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


class Session:
    """One system's workloads in its own process (see the module docstring)."""

    def __init__(self, system: str, threads: int, scale: Scale):
        self.system = system
        self.threads = threads
        self.scale = scale
        self.fitted: dict[str, object] = {}
        self.compiled: set[str] = set()

    # Data, made on first use.

    @cache  # noqa: B019 (one Session per process)
    def mnist(self):
        rows = self.scale.mnist_rows
        X, y = _data.mnist_like(rows + self.scale.test_rows)
        return (X[:rows], y[:rows]), (X[rows:], y[rows:])

    @cache  # noqa: B019
    def fit_data(self, workload: str):
        """(X, y, evaluation (X, y), hyperparameters) of a fit workload."""
        if workload == "tiny":
            X, y = _data.iris_scaled()
            return X, y, (X, y), Hyper(hidden=(16,), batch_size=16, epochs=self.scale.tiny_epochs)
        if workload == "small":
            X, y = _data.digits_scaled()
            return X, y, (X, y), Hyper(hidden=(64,), batch_size=64, epochs=self.scale.small_epochs)
        (X, y), test = self.mnist()
        return X, y, test, MNIST_HYPER

    @cache  # noqa: B019
    def defaults_data(self, name: str) -> _defaults.DefaultsData:
        return _defaults.load(name, self.scale.name)

    # ------------------------------------------------------------------

    def warm_up(self) -> None:
        """One small fit and predict before any clock runs: imports done lazily
        on first use (PyTorch's optimizer pulls in torch._dynamo, ~1.5 s),
        thread pools and allocator arenas are then set up in every process alike."""
        X, y = _data.mnist_like(512, seed=1)
        for hyper in (MNIST_HYPER, Hyper((16,), 16, 1)):
            make_estimator(self.system, hyper, self.threads).fit(X, y).predict(X[:1])
        if self.system in ("fnn", "fnn-1thread", "sklearn"):
            # The defaults workloads train in float64, like the data users pass.
            X = X.astype(np.float64)
            _defaults.make_pipeline_for(self.system, regression=True).fit(X[:, :20], X[:, 20])

    def run(self, workload: str, variant: str | None = None) -> dict:
        """One timed repetition of ``workload`` (a ``variant`` of fnn's own
        comparisons); returns seconds, samples, score, flops and details."""
        gc.collect()  # not in the timed call: garbage of the previous one
        if workload in ("tiny", "small", "mnist"):
            return self.fit(workload)
        if workload.startswith("predict-"):
            return self.predict(workload)
        if workload == "search":
            return self.search()
        if workload.startswith("defaults-"):
            return self.defaults(workload.removeprefix("defaults-"))
        if workload in ("threads", "dtype", "linearity"):
            return self.fnn_variant(workload, variant)
        raise ValueError(f"unknown workload {workload!r}")

    def fit(self, workload: str) -> dict:
        X, y, (X_eval, y_eval), hyper = self.fit_data(workload)
        if self.system in COMPILING_SYSTEMS and workload not in self.compiled:
            make_estimator(self.system, hyper, self.threads).fit(X, y)
            self.compiled.add(workload)
        estimator = make_estimator(self.system, hyper, self.threads)
        seconds = timed(lambda: estimator.fit(X, y))
        if workload == "mnist":
            self.fitted["mnist"] = estimator
        sizes = (X.shape[1], *hyper.hidden, len(np.unique(y)))
        return {
            "seconds": seconds,
            "samples": X.shape[0] * hyper.epochs,
            "score": float(estimator.score(X_eval, y_eval)),
            "flops": train_flops_per_sample(sizes) * X.shape[0] * hyper.epochs,
            "details": {
                "about": f"{X.shape[0]} × {X.shape[1]}, hidden {hyper.hidden}, "
                f"batch {hyper.batch_size}, {hyper.epochs} epochs"
            },
        }

    def predict_model(self):
        """The mnist network for the predict workloads: the one the mnist
        workload trained, else one trained on 4,096 rows (the weights do not
        change the timing); warmed up on one row and on the batch."""
        if "predict" not in self.fitted:
            (X, y), (X_test, _) = self.mnist()
            model = self.fitted.get("mnist")
            if model is None:
                model = make_estimator(self.system, MNIST_HYPER, self.threads)
                model.fit(X[:4096], y[:4096])
            many = X_test[: self.scale.predict_rows]
            model.predict(many[:1])
            labels = model.predict(many)
            details = {}
            if self.system == "onnxruntime":
                # The served graph must give the converted model's answers.
                details["agrees_with_mlpclassifier"] = float(
                    np.mean(labels == model.model_.predict(many))
                )
            self.fitted["predict"] = (model, many, details)
        return self.fitted["predict"]

    def predict(self, workload: str) -> dict:
        model, many, details = self.predict_model()
        forward = forward_flops_per_sample(MNIST_SIZES)
        if workload == "predict-1":
            one, calls = many[:1], self.scale.predict_calls

            def repeat():
                for _ in range(calls):
                    model.predict(one)

            seconds = timed(repeat) / calls
            return {"seconds": seconds, "samples": 1, "flops": forward, "details": details}
        # One call of ~30 ms is at the mercy of a single scheduler hiccup on
        # a shared machine: each repetition reports the median of a few.
        seconds = statistics.median(
            timed(lambda: model.predict(many)) for _ in range(BATCH_PREDICT_CALLS)
        )
        rows = many.shape[0]
        return {"seconds": seconds, "samples": rows, "flops": forward * rows, "details": details}

    def search(self) -> dict:
        """GridSearchCV(Pipeline(StandardScaler(), net)) on digits."""
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = _data.digits()
        scale = self.scale
        hyper = Hyper(hidden=(32,), batch_size=32, epochs=scale.search_epochs)
        pipeline = Pipeline(
            [("scale", StandardScaler()), ("net", make_estimator(self.system, hyper, self.threads))]
        )
        search = GridSearchCV(pipeline, scale.search_grid, cv=scale.search_cv, n_jobs=1)
        seconds = timed(lambda: search.fit(X, y))
        n_candidates = int(np.prod([len(v) for v in scale.search_grid.values()]))
        folds = StratifiedKFold(scale.search_cv).split(X, y)
        train_rows = sum(len(train) for train, _ in folds)
        params = {k.removeprefix("net__"): v for k, v in search.best_params_.items()}
        return {
            "seconds": seconds,
            "samples": (n_candidates * train_rows + X.shape[0]) * scale.search_epochs,
            "score": float(search.best_score_),
            "details": {"best_params": params, "candidates": n_candidates},
        }

    def defaults(self, name: str) -> dict:
        data = self.defaults_data(name)
        pipeline = _defaults.make_pipeline_for(self.system, data.regression)
        seconds = timed(lambda: pipeline.fit(data.X, data.y))
        net = pipeline[-1]
        outputs = 1 if data.regression or len(np.unique(data.y)) == 2 else len(np.unique(data.y))
        sizes = (data.X.shape[1], *net.hidden_layer_sizes, outputs)
        samples = data.X.shape[0] * net.n_iter_
        return {
            "seconds": seconds,
            "samples": samples,
            "score": float(pipeline.score(data.X_score, data.y_score)),
            "flops": train_flops_per_sample(sizes) * samples,
            "details": {
                "n_iter": int(net.n_iter_),
                "data": data.label,
                "regression": data.regression,
                "held_out": data.X_score is not data.X,
                "dtype": str(data.X.dtype),
            },
        }

    def fnn_variant(self, workload: str, variant: str) -> dict:
        """fnn's own comparisons on the mnist network: thread counts (with and
        without the L2 penalty), float32 against float64 input, and growing
        row counts (time should grow as the rows)."""
        if self.system != "fnn":
            raise ValueError(f"{workload} compares fnn configurations; it runs in fnn's process")
        (X, y), _ = self.mnist()
        threads, hyper, note = self.threads, MNIST_HYPER, ""
        if workload == "threads":
            _, count, alpha = variant.split(", ")
            threads = int(count.split()[0])
            alpha = float(alpha.removeprefix("alpha="))
            hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1, alpha=alpha)
            note = f"{threads} {alpha}"
        elif workload == "dtype":
            X = X.astype(variant)
        else:
            rows = int(variant.split()[0])
            X, y = X[:rows], y[:rows]
        estimator = make_estimator("fnn", hyper, threads)
        seconds = timed(lambda: estimator.fit(X, y))
        return {
            "seconds": seconds,
            "samples": X.shape[0],
            "flops": train_flops_per_sample(MNIST_SIZES) * X.shape[0],
            "note": note,
        }
