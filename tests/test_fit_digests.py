"""Byte-exact pins of whole fits: a refactor that should change no number changes none.

A matrix of fits (both engines; classifier and regressor; every solver: sgd,
momentum, Nesterov, rmsprop, adam, adamw, lbfgs; float32 and float64; early
stopping, dropout, L1/L2, sample and class weights, sparse input, warm starts,
partial_fit; products small and large) is reduced to SHA-256 digests of what a
user reads from it: the parameters, curves and counters (``fit``), ``predict``,
the probabilities or decision function (``scores``) and, for some, the bytes
of a saved file (``saved``). `DIGESTS` was recorded on main before issue 15's
refactor, the four ``wide`` Rust digests again when issue 12 cut batches
into row blocks (spec, "Row blocks"), and three of them once more when issue
12 sent products of up to 2^19 multiply-adds to `small_matmul` (another order
of the sums), and the Rust engine's classifier ``scores`` once more when issue
12 made its probabilities the core's output functions (softmax with the
core's ``exp``, sigmoid in Rust) instead of NumPy's, so that the one-row fast
path (`fnn._core.Predictor`) and the validated path give the same bytes: the
logits, and every ``predict`` digest, stayed; and the Rust engine's float64
classifiers' ``fit`` and ``scores`` once more when issue 12 took their log
losses' ``exp``, ``log`` and ``log1p`` (and the softmax probabilities' ``exp``)
from polynomials instead of libm, as float32 already did; and the Rust
digests of one-output networks once more when issue 12 gave one-column
products interleaved dot products (`small_matmul::dot_rows`) instead of
one chain; and the Rust ``fit`` digests of the two ``wide`` stochastic fits
(with their ``scores`` or ``predict``) once more when issue 12 added a
batch's row blocks' gradients pairwise instead of in block order (spec,
"Row blocks"). A mismatch means a result moved.

What the digests depend on besides fnn, measured (issue 15's report):

- The Rust engine's own kernels give the same bits on AVX-512 and AVX2
  (`small_matmul.rs` and `simd.rs` are written for that), except products with
  one output column large enough for the `gemm` crate, whose matrix-vector
  path sums across vector lanes: `AVX2_DIGESTS` holds the values of a CPU
  without AVX-512 (recorded under ``qemu-x86_64 -cpu Haswell-v4``). Those
  are the ``core`` digests, checked on any x86-64 CPU with AVX2 and FMA.
- The NumPy engine follows NumPy's SIMD kernels and OpenBLAS's, L-BFGS
  follows SciPy's, and its probabilities use NumPy's ``exp``: those digests are
  checked only where NumPy, SciPy, NumPy's SIMD targets and OpenBLAS's kernel
  match `RECORDED_IN`, and skipped elsewhere (the parity tests, with
  tolerances, hold the engines together there).

After a deliberate change of the math, print the new table with
``python tests/test_fit_digests.py`` and review the diff.
"""

from __future__ import annotations

import hashlib
import pathlib
import platform
import tempfile
import warnings
from unittest import mock

import numpy as np
import pytest
import scipy
import scipy.sparse as sp
import sklearn
import threadpoolctl

import fnn
from fnn import FNNClassifier, FNNRegressor

#: Rows and features of the small problems, and of the "wide" ones whose
#: products are large enough for the `gemm` crate (rust/linalg.rs).
SMALL, WIDE = (48, 5), (400, 40)


def _inputs(shape):
    """Features from PCG64's uniform doubles: exact on every platform."""
    return np.random.default_rng(0).random(shape)


def _classes(X):
    # Elementwise IEEE arithmetic only, so the labels do not depend on a BLAS.
    return (X[:, 0] + X[:, 1] * X[:, 2] > 0.8).astype(np.int64) + (X[:, 3] > 0.6)


def _targets(X):
    return np.column_stack([X[:, 0] - 2 * X[:, 1] * X[:, 2], X[:, 3] * X[:, 4] + 0.5])


def _weights(X):
    return 0.5 + X[:, 4]


COMMON = dict(hidden_layer_sizes=(6, 4), max_iter=5, batch_size=16, random_state=3, n_jobs=2)

#: name -> (estimator class, its parameters, what to fit on).
#: Fit options: "f32" float32 input, "sw" sample weights, "sparse" CSR input,
#: "binary" two classes, "warm" a second fit continuing the first, "partial"
#: two partial_fit calls, "wide" the larger problem, "1-output" one target.
CASES = {
    "clf-sgd": (FNNClassifier, dict(solver="sgd", momentum=0.0, learning_rate_init=0.1), ()),
    "clf-sgd-nesterov-f32": (
        FNNClassifier,
        dict(solver="sgd", momentum=0.9, learning_rate="invscaling", activation="tanh"),
        ("f32",),
    ),
    "clf-sgd-momentum-dropout": (
        FNNClassifier,
        dict(
            solver="sgd",
            nesterovs_momentum=False,
            dropout=0.2,
            learning_rate="step",
            lr_step_size=2,
        ),
        (),
    ),  # fmt: skip
    "clf-rmsprop-l1-alpha-f32": (
        FNNClassifier,
        dict(solver="rmsprop", alpha=0.05, l1=0.01, activation="leaky_relu"),
        ("f32",),
    ),
    "clf-adam-early-stopping": (
        FNNClassifier,
        dict(
            solver="adam",
            early_stopping=True,
            validation_fraction=0.25,
            max_iter=8,
            n_iter_no_change=2,
            learning_rate_init=0.02,
        ),
        (),
    ),  # fmt: skip
    "clf-adamw-sw-f32": (
        FNNClassifier,
        dict(solver="adamw", weight_decay=0.1, learning_rate="cosine", activation="logistic"),
        ("f32", "sw"),
    ),
    "clf-adam-class-weight-dropout-f32": (
        FNNClassifier,
        dict(solver="adam", class_weight="balanced", dropout=(0.1, 0.3), alpha=0.01),
        ("f32",),
    ),
    "clf-lbfgs-alpha-sw": (
        FNNClassifier,
        dict(solver="lbfgs", alpha=0.1, max_iter=15),
        ("sw",),
    ),
    "clf-lbfgs-l1-f32": (FNNClassifier, dict(solver="lbfgs", l1=0.02, max_iter=15), ("f32",)),
    "clf-binary-adam": (FNNClassifier, dict(solver="adam", learning_rate_init=0.01), ("binary",)),
    "clf-hinge-sgd": (
        FNNClassifier,
        dict(solver="sgd", loss="hinge", learning_rate="adaptive", n_iter_no_change=1),
        (),
    ),
    "clf-sparse-adam": (FNNClassifier, dict(solver="adam"), ("sparse",)),
    "clf-sparse-lbfgs-alpha": (
        FNNClassifier,
        dict(solver="lbfgs", alpha=0.01, max_iter=10),
        ("sparse",),
    ),
    "clf-warm-start-rmsprop": (
        FNNClassifier,
        dict(solver="rmsprop", warm_start=True, learning_rate_init=0.005),
        ("warm",),
    ),
    "clf-partial-fit-sgd-f32": (FNNClassifier, dict(solver="sgd"), ("partial", "f32")),
    "reg-adam-early-stopping": (
        FNNRegressor,
        dict(solver="adam", early_stopping=True, max_iter=8, n_iter_no_change=2),
        (),
    ),
    "reg-sgd-momentum-l1-sw-f32": (
        FNNRegressor,
        dict(solver="sgd", momentum=0.5, l1=0.01, learning_rate_init=0.01),
        ("f32", "sw"),
    ),
    "reg-rmsprop-dropout": (
        FNNRegressor,
        dict(solver="rmsprop", dropout=0.25, activation="tanh"),
        (),
    ),
    "reg-adamw-huber-f32": (
        FNNRegressor,
        dict(solver="adamw", loss="huber", huber_delta=0.5, alpha=0.01),
        ("f32",),
    ),
    "reg-lbfgs-alpha-l1": (
        FNNRegressor,
        dict(solver="lbfgs", alpha=0.05, l1=0.01, max_iter=20),
        (),
    ),
    "reg-lbfgs-f32-sw": (FNNRegressor, dict(solver="lbfgs", max_iter=20), ("f32", "sw")),
    "clf-wide-adam": (
        FNNClassifier,
        dict(solver="adam", hidden_layer_sizes=(64,), batch_size=200, max_iter=3),
        ("wide",),
    ),
    "reg-wide-1-output-sgd-f32": (
        FNNRegressor,
        dict(
            solver="sgd",
            hidden_layer_sizes=(256,),
            batch_size=200,
            max_iter=3,
            learning_rate_init=0.01,
        ),
        ("wide", "1-output", "f32"),
    ),  # fmt: skip
    "reg-wide-lbfgs": (
        FNNRegressor,
        dict(solver="lbfgs", hidden_layer_sizes=(64,), max_iter=5, alpha=0.01),
        ("wide",),
    ),
}

ENGINES = ("rust", "numpy")

#: Cases whose fitted model is also saved, and the saved file's bytes pinned.
SAVED = ("clf-adamw-sw-f32", "reg-lbfgs-alpha-l1", "clf-warm-start-rmsprop")


def _data(options, estimator_class):
    X = _inputs(WIDE if "wide" in options else SMALL)
    if estimator_class is FNNClassifier:
        y = _classes(X)
        if "binary" in options:
            y = (y > 0).astype(np.int64)
    else:
        y = _targets(X)
        if "1-output" in options:
            y = y[:, 0]
    if "f32" in options:
        X = X.astype(np.float32)
    fit_kwargs = {"sample_weight": _weights(X)} if "sw" in options else {}
    if "sparse" in options:
        X = sp.csr_matrix(np.where(X > 0.4, X, 0.0))
    return X, y, fit_kwargs


def fit_case(name, engine):
    """The fitted estimator of case ``name`` on ``engine``, and the data it saw."""
    estimator_class, params, options = CASES[name]
    X, y, fit_kwargs = _data(options, estimator_class)
    model = estimator_class(**{**COMMON, **params}, engine=engine)
    with warnings.catch_warnings():
        # These fits are deliberately short: ConvergenceWarnings are expected.
        warnings.simplefilter("ignore")
        if "partial" in options:
            classes = np.unique(y)
            model.partial_fit(X[:30], y[:30], classes=classes)
            model.partial_fit(X[30:], y[30:])
        else:
            model.fit(X, y, **fit_kwargs)
            if "warm" in options:
                model.fit(X, y, **fit_kwargs)
    return model, X


def _update(digest, value):
    """Feed ``value`` to ``digest`` with its type and shape, so no two values collide."""
    if value is None:
        digest.update(b"None;")
    elif isinstance(value, (list, tuple)):
        digest.update(f"list{len(value)}[".encode())
        for item in value:
            _update(digest, item)
        digest.update(b"];")
    elif isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        digest.update(f"{value.dtype.str}{value.shape}:".encode() + value.tobytes() + b";")
    elif isinstance(value, (float, np.floating)):
        digest.update(b"f" + np.float64(value).tobytes() + b";")
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


#: Hex digits kept of each SHA-256 (96 bits: plenty to notice a change).
DIGITS = 24


def _sha256(*values) -> str:
    digest = hashlib.sha256()
    for value in values:
        _update(digest, value)
    return digest.hexdigest()[:DIGITS]


FITTED = (
    "coefs_",
    "intercepts_",
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "best_validation_score_",
)


def digests_of(name, engine, tmp_path) -> dict[str, str]:
    """Every digest of case ``name`` on ``engine``, keyed ``name/engine/part``."""
    model, X = fit_case(name, engine)
    parts = {
        "fit": _sha256(*(getattr(model, attribute) for attribute in FITTED)),
        "predict": _sha256(model.predict(X)),
    }
    if hasattr(model, "predict_proba"):
        parts["scores"] = _sha256(model.predict_proba(X))
    elif hasattr(model, "decision_function"):
        parts["scores"] = _sha256(model.decision_function(X))
    if name in SAVED:
        path = tmp_path / f"{name}-{engine}.fnn"
        # The file records scikit-learn's version; the pin is about everything else.
        with mock.patch.object(sklearn, "__version__", "pinned"):
            fnn.save(model, path)
        parts["saved"] = hashlib.sha256(path.read_bytes()).hexdigest()[:DIGITS]
    return {f"{name}/{engine}/{part}": digest for part, digest in parts.items()}


def is_core(key: str) -> bool:
    """Whether digest ``key`` depends on fnn's Rust kernels alone (see the module doc)."""
    name, engine, part = key.split("/")
    return engine == "rust" and CASES[name][1]["solver"] != "lbfgs" and part != "scores"


def _cpu():
    """NumPy's SIMD dispatch targets and the CPU features it detected."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    return umath.__cpu_dispatch__, umath.__cpu_features__


def _numpy_simd() -> tuple[str, ...]:
    """The dispatch targets NumPy uses here (NPY_DISABLE_CPU_FEATURES turns some off)."""
    targets, features = _cpu()
    return tuple(target for target in targets if features.get(target))


def environment() -> dict:
    """This environment in `RECORDED_IN`'s terms."""
    blas = [
        i.get("architecture") for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
    ]
    return {
        "numpy": ".".join(np.__version__.split(".")[:2]),
        "scipy": ".".join(scipy.__version__.split(".")[:2]),
        "numpy_simd": _numpy_simd(),
        "blas": blas[0] if blas else None,
    }


def expected_digests() -> tuple[dict[str, str], str]:
    """The pinned digests that hold here, and why the others are left out ('' if none are)."""
    cpu = _cpu()[1]
    reasons = []
    expected = dict(DIGESTS)
    if platform.machine().lower() not in ("x86_64", "amd64") or not (
        cpu.get("AVX2") and cpu.get("FMA3")
    ):
        reasons.append("the Rust digests were recorded on x86-64 with AVX2 and FMA")
        expected = {k: v for k, v in expected.items() if not is_core(k)}
    elif not cpu.get("AVX512F"):
        expected.update(AVX2_DIGESTS)
    here = environment()
    differences = {k: (here[k], v) for k, v in RECORDED_IN.items() if here[k] != v}
    if differences:
        reasons.append(
            f"NumPy-side digests were recorded elsewhere (here, recorded): {differences}"
        )
        expected = {k: v for k, v in expected.items() if is_core(k)}
    return expected, "; ".join(reasons)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", CASES)
def test_fit_gives_the_pinned_bytes(name, engine, tmp_path):
    expected, why_not = expected_digests()
    got = digests_of(name, engine, tmp_path)
    checked = {key: got[key] for key in got if key in expected}
    if not checked:
        pytest.skip(why_not)
    assert checked == {key: expected[key] for key in checked}


def test_digest_tables_name_exactly_the_matrix():
    keys = set()
    for name, (estimator_class, _, _) in CASES.items():
        for engine in ENGINES:
            parts = ["fit", "predict"] + ["scores"] * (estimator_class is FNNClassifier)
            keys |= {f"{name}/{engine}/{part}" for part in parts + ["saved"] * (name in SAVED)}
    assert set(DIGESTS) == keys
    assert set(AVX2_DIGESTS) <= {key for key in keys if is_core(key)}


def current_table() -> dict[str, str]:
    """Every digest of the matrix, computed now."""
    with tempfile.TemporaryDirectory() as tmp:
        table = {}
        for name in CASES:
            for engine in ENGINES:
                table.update(digests_of(name, engine, pathlib.Path(tmp)))
    return table


# Recorded on main at dc0992a (before issue 15), AMD EPYC with AVX-512, in
# the environment below; `python tests/test_fit_digests.py` prints the table.
RECORDED_IN = {
    "numpy": "2.4",
    "scipy": "1.17",
    "numpy_simd": ("X86_V3", "X86_V4", "AVX512_ICL"),
    "blas": "SkylakeX",
}

DIGESTS = {
    "clf-sgd/rust/fit": "56979556e41135c723b8633b",
    "clf-sgd/rust/predict": "fd3fa2b10dccadd94504c990",
    "clf-sgd/rust/scores": "f85979fe660ef6d5c31435c7",
    "clf-sgd/numpy/fit": "c94920bd9a5a77411cc979f8",
    "clf-sgd/numpy/predict": "fd3fa2b10dccadd94504c990",
    "clf-sgd/numpy/scores": "b666d356d1fef1ad3b1f4b70",
    "clf-sgd-nesterov-f32/rust/fit": "d206a1129aa1e15f4cd03df3",
    "clf-sgd-nesterov-f32/rust/predict": "fd3fa2b10dccadd94504c990",
    "clf-sgd-nesterov-f32/rust/scores": "8ad429c4409ed5871175a533",
    "clf-sgd-nesterov-f32/numpy/fit": "89c547c9469456620d0c4641",
    "clf-sgd-nesterov-f32/numpy/predict": "fd3fa2b10dccadd94504c990",
    "clf-sgd-nesterov-f32/numpy/scores": "2026f1f87bcf828f1c9aee4e",
    "clf-sgd-momentum-dropout/rust/fit": "23a55befe1277ab00cf7d55f",
    "clf-sgd-momentum-dropout/rust/predict": "def1caf59cb01efda6afa2a2",
    "clf-sgd-momentum-dropout/rust/scores": "b64e93c2f8ea86c4b1fc5fd6",
    "clf-sgd-momentum-dropout/numpy/fit": "f06e6db0d77d534431dd19a7",
    "clf-sgd-momentum-dropout/numpy/predict": "def1caf59cb01efda6afa2a2",
    "clf-sgd-momentum-dropout/numpy/scores": "a9efecf03d648344439146ca",
    "clf-rmsprop-l1-alpha-f32/rust/fit": "953d5792e82bde8ce1afabcc",
    "clf-rmsprop-l1-alpha-f32/rust/predict": "fd3fa2b10dccadd94504c990",
    "clf-rmsprop-l1-alpha-f32/rust/scores": "17e01ecc042c9a292195d088",
    "clf-rmsprop-l1-alpha-f32/numpy/fit": "4e3e5e51cdeefb4925b85beb",
    "clf-rmsprop-l1-alpha-f32/numpy/predict": "fd3fa2b10dccadd94504c990",
    "clf-rmsprop-l1-alpha-f32/numpy/scores": "f71f17a7ee3898292215e373",
    "clf-adam-early-stopping/rust/fit": "f07e3b377e3a7c5d71dd8822",
    "clf-adam-early-stopping/rust/predict": "f492abebc7a5f2abeb8626b8",
    "clf-adam-early-stopping/rust/scores": "3b61418c7a878be3ceb4feb0",
    "clf-adam-early-stopping/numpy/fit": "088be46b6f49cb1a7989eb7a",
    "clf-adam-early-stopping/numpy/predict": "f492abebc7a5f2abeb8626b8",
    "clf-adam-early-stopping/numpy/scores": "0efaa30cda97a5b2bea7de2c",
    "clf-adamw-sw-f32/rust/fit": "86d55523bd3e038eebc2c2f7",
    "clf-adamw-sw-f32/rust/predict": "a27216269cc193e8864da54d",
    "clf-adamw-sw-f32/rust/scores": "f2cdd944fe8eaa8807a07b47",
    "clf-adamw-sw-f32/rust/saved": "b8632634cb4fbc0465d40836",
    "clf-adamw-sw-f32/numpy/fit": "c58d4c1c0af0d8957374d753",
    "clf-adamw-sw-f32/numpy/predict": "a27216269cc193e8864da54d",
    "clf-adamw-sw-f32/numpy/scores": "eaa806f00e5260066c3607b4",
    "clf-adamw-sw-f32/numpy/saved": "62acbdae21ad386fb077519b",
    "clf-adam-class-weight-dropout-f32/rust/fit": "ae2d1ab0a6343798741030fa",
    "clf-adam-class-weight-dropout-f32/rust/predict": "5ae409fe26c33d9bdf4e390e",
    "clf-adam-class-weight-dropout-f32/rust/scores": "694967a5b34b45e1e40cf1c8",
    "clf-adam-class-weight-dropout-f32/numpy/fit": "57034283e3b8116bd7e6dd64",
    "clf-adam-class-weight-dropout-f32/numpy/predict": "5ae409fe26c33d9bdf4e390e",
    "clf-adam-class-weight-dropout-f32/numpy/scores": "540164972853b1e5a32be7aa",
    "clf-lbfgs-alpha-sw/rust/fit": "833ea85804cb84eaf6fd9201",
    "clf-lbfgs-alpha-sw/rust/predict": "b50bee6c60c912e5f67ad24c",
    "clf-lbfgs-alpha-sw/rust/scores": "8b5750568ec95bb3c2e652ce",
    "clf-lbfgs-alpha-sw/numpy/fit": "e407766c8736b0883def85bc",
    "clf-lbfgs-alpha-sw/numpy/predict": "b50bee6c60c912e5f67ad24c",
    "clf-lbfgs-alpha-sw/numpy/scores": "8eac3464110468685d74f948",
    "clf-lbfgs-l1-f32/rust/fit": "f31644903fec39591aafbb52",
    "clf-lbfgs-l1-f32/rust/predict": "8c746c88fe487ad5c1265025",
    "clf-lbfgs-l1-f32/rust/scores": "11a197e4fb4ddcb23180d38d",
    "clf-lbfgs-l1-f32/numpy/fit": "f2afe6eac7ef50cfa54e620c",
    "clf-lbfgs-l1-f32/numpy/predict": "8c746c88fe487ad5c1265025",
    "clf-lbfgs-l1-f32/numpy/scores": "8912ab63959377f3d99ca93a",
    "clf-binary-adam/rust/fit": "543d41a39bebf2433ff35410",
    "clf-binary-adam/rust/predict": "fd3fa2b10dccadd94504c990",
    "clf-binary-adam/rust/scores": "e6fbdc3499edf6824f1d4fd5",
    "clf-binary-adam/numpy/fit": "207e9b68f56277e05b21a3df",
    "clf-binary-adam/numpy/predict": "fd3fa2b10dccadd94504c990",
    "clf-binary-adam/numpy/scores": "668edc862c64f3ea1014ecdf",
    "clf-hinge-sgd/rust/fit": "9844b390e4f9512860bee66c",
    "clf-hinge-sgd/rust/predict": "318eea363e280b0037e92cf8",
    "clf-hinge-sgd/rust/scores": "6add42b3fb12b01f180f1a5d",
    "clf-hinge-sgd/numpy/fit": "9844b390e4f9512860bee66c",
    "clf-hinge-sgd/numpy/predict": "318eea363e280b0037e92cf8",
    "clf-hinge-sgd/numpy/scores": "6add42b3fb12b01f180f1a5d",
    "clf-sparse-adam/rust/fit": "dc97d46de41a6fb72d2d1284",
    "clf-sparse-adam/rust/predict": "44a5a16693dc2f10348ba599",
    "clf-sparse-adam/rust/scores": "5dbbf7cc5ed726bdbca3a8b9",
    "clf-sparse-adam/numpy/fit": "f857aae5ff1e33731643b72b",
    "clf-sparse-adam/numpy/predict": "44a5a16693dc2f10348ba599",
    "clf-sparse-adam/numpy/scores": "f23292c0b068b2e1a105eedb",
    "clf-sparse-lbfgs-alpha/rust/fit": "a9ab60f828442169d2afaaf3",
    "clf-sparse-lbfgs-alpha/rust/predict": "26d6eee84b657676fa11d74f",
    "clf-sparse-lbfgs-alpha/rust/scores": "703124453c81157eca3cb540",
    "clf-sparse-lbfgs-alpha/numpy/fit": "97141dd81d5b7725afbd1ed8",
    "clf-sparse-lbfgs-alpha/numpy/predict": "26d6eee84b657676fa11d74f",
    "clf-sparse-lbfgs-alpha/numpy/scores": "5cf15ce19ed8cdf80ab0e35c",
    "clf-warm-start-rmsprop/rust/fit": "10ef4ac28aaf5cad539fb94e",
    "clf-warm-start-rmsprop/rust/predict": "331b082e83b1de4d9ef0b27c",
    "clf-warm-start-rmsprop/rust/scores": "be0676968b7947b02a03a0e9",
    "clf-warm-start-rmsprop/rust/saved": "b238208fecc21ca6c949ee61",
    "clf-warm-start-rmsprop/numpy/fit": "e9c2818939abf04c6ecff5b8",
    "clf-warm-start-rmsprop/numpy/predict": "331b082e83b1de4d9ef0b27c",
    "clf-warm-start-rmsprop/numpy/scores": "fc159ca7140550d2388974f7",
    "clf-warm-start-rmsprop/numpy/saved": "2dc915d27751a1f795354814",
    "clf-partial-fit-sgd-f32/rust/fit": "3f86dd60e8b90f84606901d1",
    "clf-partial-fit-sgd-f32/rust/predict": "def1caf59cb01efda6afa2a2",
    "clf-partial-fit-sgd-f32/rust/scores": "e11454aef20d19934ccaad77",
    "clf-partial-fit-sgd-f32/numpy/fit": "b690310831061fd01696c44e",
    "clf-partial-fit-sgd-f32/numpy/predict": "def1caf59cb01efda6afa2a2",
    "clf-partial-fit-sgd-f32/numpy/scores": "183e03a5f5a1b7a36810f332",
    "reg-adam-early-stopping/rust/fit": "eab6ad8244e6ec00b6e16aad",
    "reg-adam-early-stopping/rust/predict": "46e87d343d3d99b71e1f8820",
    "reg-adam-early-stopping/numpy/fit": "5183e82a934cf73e4b6e7c8b",
    "reg-adam-early-stopping/numpy/predict": "46e87d343d3d99b71e1f8820",
    "reg-sgd-momentum-l1-sw-f32/rust/fit": "ed574e513a4939fdd9b55477",
    "reg-sgd-momentum-l1-sw-f32/rust/predict": "df2341f64b30f92ab294391d",
    "reg-sgd-momentum-l1-sw-f32/numpy/fit": "b698860ac85979ad6a22fc88",
    "reg-sgd-momentum-l1-sw-f32/numpy/predict": "efc7764dbefcabc271cf5114",
    "reg-rmsprop-dropout/rust/fit": "9290c426107afdff50e236fe",
    "reg-rmsprop-dropout/rust/predict": "0d1e4e3cc488fa28d9c061db",
    "reg-rmsprop-dropout/numpy/fit": "0e4a81acb0075095b1c7803e",
    "reg-rmsprop-dropout/numpy/predict": "9f9e7a9bc7402da824b2a41a",
    "reg-adamw-huber-f32/rust/fit": "016c5f762481a30701b33053",
    "reg-adamw-huber-f32/rust/predict": "6473bafd6ba5711420bf4799",
    "reg-adamw-huber-f32/numpy/fit": "b0001ea25869ffca621c4166",
    "reg-adamw-huber-f32/numpy/predict": "bb7674c49f8635b8c000ec06",
    "reg-lbfgs-alpha-l1/rust/fit": "b30f20268b9190c74d8bf96f",
    "reg-lbfgs-alpha-l1/rust/predict": "ab9fda2284e8c3261c5fb1bf",
    "reg-lbfgs-alpha-l1/rust/saved": "896df8661d33aaf521a7cfb3",
    "reg-lbfgs-alpha-l1/numpy/fit": "3a691a13bcfda7993e53bff3",
    "reg-lbfgs-alpha-l1/numpy/predict": "c81fc1edd897c2656f092d0f",
    "reg-lbfgs-alpha-l1/numpy/saved": "894607a86ba4d748e4acbe94",
    "reg-lbfgs-f32-sw/rust/fit": "bf0a3d8345f107108a2dfe61",
    "reg-lbfgs-f32-sw/rust/predict": "0262baf4e63529881a94ad0d",
    "reg-lbfgs-f32-sw/numpy/fit": "192f48d00f7079e412961fb5",
    "reg-lbfgs-f32-sw/numpy/predict": "d4581817028cf208a1c75650",
    "clf-wide-adam/rust/fit": "2837486ea56f86e7b37d3ce9",
    "clf-wide-adam/rust/predict": "eed0dd8d471ec7c33fff339b",
    "clf-wide-adam/rust/scores": "74f85f9681578f6c9a24481c",
    "clf-wide-adam/numpy/fit": "474ea89db143e2be690c5029",
    "clf-wide-adam/numpy/predict": "eed0dd8d471ec7c33fff339b",
    "clf-wide-adam/numpy/scores": "3ac0d7cbd677a4e2b8e7250d",
    "reg-wide-1-output-sgd-f32/rust/fit": "ae781487970b187f6889c9b2",
    "reg-wide-1-output-sgd-f32/rust/predict": "9d7f17f8434c3c7a844b791f",
    "reg-wide-1-output-sgd-f32/numpy/fit": "3b724591f27a77583c7057cd",
    "reg-wide-1-output-sgd-f32/numpy/predict": "5387d73bd71bf0d744a222b9",
    "reg-wide-lbfgs/rust/fit": "5bc99091473441e08b325a20",
    "reg-wide-lbfgs/rust/predict": "7094a8ed388c74d3db2357e7",
    "reg-wide-lbfgs/numpy/fit": "1f650490bce9571fd5404243",
    "reg-wide-lbfgs/numpy/predict": "995a410691125cf728910c24",
}

# The same fits on a CPU without AVX-512: qemu-x86_64 -cpu Haswell-v4 (QEMU 7.2,
# Debian's qemu-user), with NumPy held to its baseline kernels
# (NPY_DISABLE_CPU_FEATURES, OPENBLAS_CORETYPE=Nehalem) so that only the Rust
# engine's instruction set differed. The one digest that differed came from a
# 1-column `gemm` product (predicting reg-wide-1-output's 400 rows in two
# blocks of 200); since issue 12 raised `small_matmul::SMALL_MAX_MACS` to 2^19,
# `small_matmul` computes that product, with the same bits on AVX2 and AVX-512
# (its own tests compare the two), so no core digest depends on the
# instruction set.
AVX2_DIGESTS: dict[str, str] = {}


if __name__ == "__main__":
    print(f"RECORDED_IN = {environment()!r}\n")
    print("DIGESTS = {")
    for key, value in current_table().items():
        print(f'    "{key}": "{value}",')
    print("}")
