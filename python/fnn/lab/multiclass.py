"""Exercise 3, multi-class classification: iris, digits and (if given) MNIST.

A softmax output layer with one unit per class turns the binary network into
a multi-class one. The confusion matrices show where the mistakes go; the
per-class report gives precision, recall and F1 per class.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import FNNClassifier, datasets
from ._common import (
    DEFAULT_ENGINE,
    ExerciseResult,
    Progress,
    Steps,
    Table,
    check_seed,
    hidden_label,
    new_figure,
    resolve_settings,
    timed_fit,
)

NAME = "multiclass"
TITLE = "3. Multi-class classification: iris, digits, MNIST"
PREDICTION = (
    "The lesson predicts that a softmax output layer extends the network to many "
    "classes with high accuracy, and that its mistakes concentrate on classes "
    "that look alike."
)

#: Environment variable naming the MNIST directory when ``mnist_dir`` is not given.
MNIST_ENV = "FNN_MNIST_DIR"

FULL = {
    "test_fraction": 0.3,
    "iris_hidden": (16,),
    "iris_learning_rate": 0.01,
    "iris_max_epochs": 300,
    "digits_hidden": (64,),
    "digits_learning_rate": 0.001,
    "digits_max_epochs": 100,
    "mnist_hidden": (128,),
    "mnist_learning_rate": 0.001,
    "mnist_batch_size": 128,
    "mnist_epochs": 10,
    "mnist_n_train": 60000,
    "mnist_n_test": 10000,
}
QUICK = {
    "digits_max_epochs": 50,
    "mnist_epochs": 3,
    "mnist_n_train": 5000,
    "mnist_n_test": 1000,
}


def mnist_directory(mnist_dir: str | os.PathLike | None) -> str | None:
    """Return the MNIST directory to use: ``mnist_dir``, else ``$FNN_MNIST_DIR``, else None.

    Parameters
    ----------
    mnist_dir : str or path-like or None
        The directory given on the command line or to `run`.

    Returns
    -------
    str or None
        None when neither names a directory (the exercise then skips MNIST).
    """
    if mnist_dir:
        return os.fspath(mnist_dir)
    return os.environ.get(MNIST_ENV) or None


def _iris(s, seed):
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = datasets.load_iris()
    parts = train_test_split(X, y, test_size=s.test_fraction, random_state=seed, stratify=y)
    # Iris features are lengths in cm on different scales: standardize them.
    model = make_pipeline(
        StandardScaler(),
        FNNClassifier(
            hidden_layer_sizes=s.iris_hidden,
            learning_rate_init=s.iris_learning_rate,
            max_iter=s.iris_max_epochs,
            batch_size=16,
            random_state=seed,
        ),
    )
    names = ["setosa", "versicolor", "virginica"]
    return "iris", model, parts, names, s.iris_hidden


def _digits(s, seed):
    from sklearn.model_selection import train_test_split

    X, y = datasets.load_digits()
    # Pixels run from 0 to 16; scaled to [0, 1] like any image.
    parts = train_test_split(X / 16.0, y, test_size=s.test_fraction, random_state=seed, stratify=y)
    model = FNNClassifier(
        hidden_layer_sizes=s.digits_hidden,
        learning_rate_init=s.digits_learning_rate,
        max_iter=s.digits_max_epochs,
        batch_size=32,
        random_state=seed,
    )
    return "digits", model, parts, [str(d) for d in range(10)], s.digits_hidden


def _mnist(s, seed, directory):
    X_train, y_train = datasets.load_mnist(directory, "train", dtype=np.float32)
    X_test, y_test = datasets.load_mnist(directory, "test", dtype=np.float32)
    rng = np.random.default_rng(seed)
    # A random subset when asked for fewer images (quick mode): the files are
    # sorted by writer, not by label, but a random subset is the safe choice.
    if s.mnist_n_train < len(y_train):
        keep = np.sort(rng.choice(len(y_train), s.mnist_n_train, replace=False))
        X_train, y_train = X_train[keep], y_train[keep]
    if s.mnist_n_test < len(y_test):
        keep = np.sort(rng.choice(len(y_test), s.mnist_n_test, replace=False))
        X_test, y_test = X_test[keep], y_test[keep]
    X_train /= 255.0
    X_test /= 255.0
    model = FNNClassifier(
        hidden_layer_sizes=s.mnist_hidden,
        learning_rate_init=s.mnist_learning_rate,
        batch_size=s.mnist_batch_size,
        max_iter=s.mnist_epochs,
        random_state=seed,
    )
    return (
        "mnist",
        model,
        (X_train, X_test, y_train, y_test),
        [str(d) for d in range(10)],
        s.mnist_hidden,
    )


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    mnist_dir: str | os.PathLike | None = None,
    **overrides,
) -> ExerciseResult:
    """Train softmax networks on iris and digits, and on MNIST when available.

    Parameters
    ----------
    quick : bool, default=False
        Fewer epochs, and a subset of MNIST (see `QUICK`).
    seed : int, default=0
        Seed of the train/test splits and of the networks.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``.
    mnist_dir : path or None, default=None
        Directory with MNIST's IDX files (see `fnn.datasets.load_mnist`);
        None uses the environment variable ``FNN_MNIST_DIR`` if set, else
        skips MNIST.
    **overrides
        Any key of `FULL`.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per data set (``dataset``, ``n_classes``,
        ``n_features``, ``n_train``, ``n_test``, ``hidden``, ``epochs``,
        ``train_accuracy``, ``test_accuracy``, ``seconds``); a second table
        holds the per-class report. Figure: ``confusion``.
    """
    from sklearn.metrics import classification_report, confusion_matrix

    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    started = time.perf_counter()
    directory = mnist_directory(mnist_dir)
    problems = [_iris, _digits] + ([_mnist] if directory else [])
    steps = Steps(progress, len(problems))

    records, per_class, confusions = [], [], {}
    for make in problems:
        args = (s, seed, directory) if make is _mnist else (s, seed)
        name, model, (X_train, X_test, y_train, y_test), class_names, hidden = make(*args)
        model.set_params(**{_param(model, "engine"): engine})
        seconds = timed_fit(model, X_train, y_train)
        predicted = model.predict(X_test)
        estimator = model[-1] if hasattr(model, "steps") else model
        records.append(
            {
                "dataset": name,
                "n_classes": len(class_names),
                "n_features": X_train.shape[1],
                "n_train": len(y_train),
                "n_test": len(y_test),
                "hidden": hidden_label(hidden),
                "epochs": int(estimator.n_iter_),
                "train_accuracy": float(model.score(X_train, y_train)),
                "test_accuracy": float(np.mean(predicted == y_test)),
                "seconds": seconds,
            }
        )
        labels = np.arange(len(class_names))
        confusions[name] = (confusion_matrix(y_test, predicted, labels=labels), class_names)
        report = classification_report(
            y_test, predicted, labels=labels, output_dict=True, zero_division=0
        )
        for label, class_name in zip(labels, class_names):
            row = report[str(label)]
            per_class.append(
                {
                    "dataset": name,
                    "class": class_name,
                    "precision": float(row["precision"]),
                    "recall": float(row["recall"]),
                    "f1": float(row["f1-score"]),
                    "support": int(row["support"]),
                }
            )
        steps.step(name)

    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table("Accuracy on the held-out test set", records),
            Table("Per-class report on the test set", per_class, terminal=False),
        ],
        figures={"confusion": _figure(records, confusions)},
        prediction=PREDICTION,
        findings=_findings(records, per_class, confusions, directory),
        settings={**vars(s), "mnist_dir": directory},
        seconds=time.perf_counter() - started,
    )


def _param(model, name: str) -> str:
    """Return the ``set_params`` key of the classifier's ``name``, in a pipeline or not."""
    if hasattr(model, "steps"):
        return f"{model.steps[-1][0]}__{name}"
    return name


def _most_confused(matrix, class_names):
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    true, pred = np.unravel_index(np.argmax(off), off.shape)
    return class_names[true], class_names[pred], int(off[true, pred]), int(off.sum())


def _findings(records, per_class, confusions, directory) -> list[str]:
    accuracy = ", ".join(
        f"{r['dataset']} {r['test_accuracy']:.1%} ({r['n_classes']} classes)" for r in records
    )
    out = [f"Measured test accuracy: {accuracy}."]
    details = []
    for r in records:
        matrix, names = confusions[r["dataset"]]
        true, pred, count, errors = _most_confused(matrix, names)
        if errors == 0:
            details.append(f"{r['dataset']} made no mistakes on its {r['n_test']} test samples")
            continue
        rows = [c for c in per_class if c["dataset"] == r["dataset"]]
        hardest = min(rows, key=lambda c: c["recall"])
        details.append(
            f"on {r['dataset']}, {count} of the {errors} mistakes were {true} taken for "
            f"{pred}, and class {hardest['class']} had the lowest recall "
            f"({hardest['recall']:.2f})"
        )
    text = "; ".join(details)
    out.append(text[0].upper() + text[1:] + ".")
    if directory is None:
        out.append(
            f"MNIST was skipped: pass --mnist DIR or set {MNIST_ENV} to a directory "
            "with its IDX files."
        )
    return out


def _figure(records, confusions):
    n = len(records)
    fig, axes = new_figure(1, n, width=5.0 * n, height=4.8)
    for ax, r in zip(axes[0], records):
        matrix, names = confusions[r["dataset"]]
        ax.grid(False)
        # Rows are normalised for the colour so that every class is readable,
        # the numbers stay counts.
        totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(matrix / totals, cmap="Blues", vmin=0, vmax=1)
        k = len(names)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    if matrix[i, j]:
                        share = matrix[i, j] / totals[i, 0]
                        ax.text(
                            j,
                            i,
                            str(matrix[i, j]),
                            ha="center",
                            va="center",
                            fontsize=8 if k > 5 else 11,
                            color="white" if share > 0.6 else "black",
                        )
        ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0)
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"{r['dataset']}: {r['test_accuracy']:.1%} test accuracy")
    fig.colorbar(image, ax=axes[0, -1], shrink=0.8, label="share of the true class")
    fig.suptitle("Confusion matrices on the test sets (counts; colour = share of the row)")
    return fig
