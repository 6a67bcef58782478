"""Hostile inputs: whatever comes in, a correct result or a clear error.

Hypothesis draws shapes (0 rows, 1 row, 0 features, very wide), dtypes (bool,
integers, float16/32/64, complex, object, strings), special values (NaN,
±inf, ±1e308), layouts (C, Fortran, strided, read-only, read-only memmap)
and containers (list, DataFrame, sparse). Every case must either

- give the same model or predictions as the plain C-ordered NumPy array of
  the same numbers (so layout and container never change a result), with
  finite weights, or
- raise ValueError or TypeError whose message names the problem, in
  scikit-learn's wording where it has one.

Never a PanicException, a crash, a hang or NaN weights. ``FNN_HYPOTHESIS=fuzz``
runs many more, freshly random, examples.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnn import FNNClassifier, FNNRegressor, _rng, functional, reference

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("FNN_HYPOTHESIS", "ci"))

pytestmark = pytest.mark.filterwarnings("ignore")

DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8",
    "float16", "float32", "float64", "complex128", "object", "numeric-str", "word-str",
]  # fmt: skip
SPECIALS = [None, np.nan, np.inf, -np.inf, 1e308, -1e308]
LAYOUTS = ["C", "F", "strided", "read-only", "memmap"]
CONTAINERS = ["ndarray", "list", "DataFrame", "csr", "csc", "coo"]


# ---------------------------------------------------------------------------
# Building an input from a drawn recipe


@st.composite
def recipes(draw, max_rows=40):
    rows = draw(st.sampled_from([0, 1, 2, 7, max_rows]))
    cols = draw(st.sampled_from([0, 1, 3, 2000]))
    return dict(
        rows=rows,
        cols=cols,
        seed=draw(st.integers(0, 2**16)),
        dtype=draw(st.sampled_from(DTYPES)),
        special=draw(st.sampled_from(SPECIALS)),
        layout=draw(st.sampled_from(LAYOUTS)),
        container=draw(st.sampled_from(CONTAINERS)),
    )


def numbers(recipe):
    """The values the input stands for, as NumPy sees them (before the layout)."""
    rng = np.random.default_rng(recipe["seed"])
    X = rng.normal(size=(recipe["rows"], recipe["cols"]))
    if recipe["special"] is not None and X.size:
        X[rng.integers(X.shape[0]), rng.integers(X.shape[1])] = recipe["special"]
    kind = recipe["dtype"]
    with np.errstate(all="ignore"):
        if kind == "bool":
            return X > 0
        if kind.startswith(("int", "uint")):
            return np.nan_to_num(X * 10, posinf=100, neginf=-100).astype(kind)
        if kind == "complex128":
            return X + 1j
        if kind == "object":
            return X.astype(object)
        if kind == "numeric-str":
            return X.astype(str)
        if kind == "word-str":
            return np.full(X.shape, "seven")
        return X.astype(kind)


def laid_out(X, recipe, tmp):
    layout = recipe["layout"]
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":
        wide = np.repeat(np.repeat(X, 2, axis=0), 2, axis=1)
        return wide[::2, ::2]
    if layout == "read-only":
        X = X.copy()
        X.setflags(write=False)
        return X
    if layout == "memmap" and X.dtype != object:
        path = os.path.join(tmp, f"x{recipe['seed']}.npy")
        np.save(path, X)
        return np.load(path, mmap_mode="r")
    return X


def contained(X, recipe):
    container = recipe["container"]
    if container == "list":
        return X.tolist()
    if container == "DataFrame":
        return pd.DataFrame(X)
    if container in ("csr", "csc", "coo") and X.dtype.kind in "biufc" and X.dtype != np.float16:
        return getattr(sp, f"{container}_matrix")(X)
    return X


def build(recipe, tmp):
    """``(the input as the user passes it, the numbers it stands for)``."""
    X = numbers(recipe)
    return contained(laid_out(X, recipe, tmp), recipe), X


def plain(X, recipe) -> np.ndarray:
    """The C-ordered float array the estimator should treat the input as."""
    keeps_float32 = X.dtype == np.float32 and recipe["container"] != "list"
    return np.ascontiguousarray(X, dtype=np.float32 if keeps_float32 else np.float64)


# ---------------------------------------------------------------------------
# The contract


#: What each kind of bad input must say (scikit-learn's wording): any of these.
EXPECTED_WORDS = {
    "nan": ("NaN",),
    "inf": ("infinity",),
    "overflow": ("overflow",),
    "complex": ("Complex data not supported", "not 'complex'"),
    "no rows": ("0 sample(s)", "Expected 2D array"),  # [] is 1-D to NumPy
    "no features": ("0 feature(s)",),
    "words": ("could not convert",),
    "NaN labels": ("NaN",),
    "features": ("features, but",),
    # scikit-learn's check_array on a DataFrame without columns (MLPClassifier too).
    "no columns": ("0 feature(s)", "at least one array or dtype is required"),
}


def numeric(X, recipe):
    """The numbers of X, with object and numeric-string arrays as float64."""
    return X.astype(np.float64) if X.dtype.kind == "O" or recipe["dtype"] == "numeric-str" else X


def problems(recipe, X):
    """The problems of the input, each with the word its error must contain."""
    found = []
    if X.dtype.kind == "c":
        found.append("complex")
    if X.dtype.kind == "U" and recipe["dtype"] == "word-str" and X.size:
        found.append("words")
    if recipe["rows"] == 0:
        found.append("no rows")
    if recipe["cols"] == 0 and recipe["rows"] > 0:
        found.append("no features")
    values = numeric(X, recipe)
    if X.size and values.dtype.kind == "f":
        with np.errstate(over="ignore"):
            in_working_dtype = values.astype(plain(values, recipe).dtype)
        if np.isnan(values).any():
            found.append("nan")
        elif not np.isfinite(in_working_dtype).all():
            found.append("inf")
    if recipe["container"] == "DataFrame" and recipe["cols"] == 0:
        found.append("no columns")
    return found


def check_error(error, found):
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    message = str(error)
    assert message, "an error without a message"
    if found:
        words = [w for p in found for w in EXPECTED_WORDS[p]]
        assert any(w in message for w in words), (found, message)


def weights(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def labels_for(kind, n, rng):
    if kind == "ints":
        return np.arange(n) % 3
    if kind == "strings":
        return np.array(["cat", "dog"])[np.arange(n) % 2]
    if kind == "one class":
        return np.zeros(n, dtype=int)
    if kind == "NaN labels":
        y = (np.arange(n) % 2).astype(float)
        y[:1] = np.nan
        return y
    return rng.normal(size=n)  # "floats", for the regressor


# ---------------------------------------------------------------------------
# Estimators


@given(
    recipe=recipes(),
    label_kind=st.sampled_from(["ints", "strings", "one class", "NaN labels", "floats"]),
    solver=st.sampled_from(["adam", "sgd", "lbfgs"]),
)
def test_fit_gives_the_plain_array_model_or_a_clear_error(recipe, label_kind, solver):
    rng = np.random.default_rng(recipe["seed"])
    regress = label_kind == "floats"
    cls = FNNRegressor if regress else FNNClassifier
    y = labels_for(label_kind, recipe["rows"], rng)
    make = lambda: cls(hidden_layer_sizes=(3,), solver=solver, max_iter=2, random_state=0)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        X_in, X = build(recipe, tmp)
        found = problems(recipe, X)
        if recipe["rows"] and label_kind == "NaN labels":
            found.append(label_kind)
        est = make()
        try:
            est.fit(X_in, y)
        except (ValueError, TypeError) as error:
            check_error(error, found)
            assert not hasattr(est, "coefs_") or not found, "a failed fit left a model"
            return
        del X_in  # the memmap must be closed before the directory goes
    assert not found, f"fit accepted an input with {found}"
    fitted = weights(est)
    assert all(np.isfinite(w).all() for w in fitted)
    assert_same_weights(fitted, weights(make().fit(plain(X, recipe), y)))


@pytest.fixture(scope="module")
def fitted_models():
    rng = np.random.default_rng(0)
    models = {}
    for dtype in (np.float64, np.float32):
        X = rng.normal(size=(60, 3)).astype(dtype)
        wide = rng.normal(size=(20, 2000)).astype(dtype)
        models[dtype, 3] = FNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
            X, np.arange(60) % 3
        )
        models[dtype, 1] = FNNRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
            X[:, :1], X[:, 0]
        )
        models[dtype, 2000] = FNNClassifier(
            hidden_layer_sizes=(4,), max_iter=3, random_state=0
        ).fit(wide, np.arange(20) % 2)
    return models


@given(
    recipe=recipes(),
    model_dtype=st.sampled_from([np.float64, np.float32]),
    method=st.sampled_from(["predict", "predict_proba", "decision_function"]),
)
def test_predict_gives_the_plain_array_output_or_a_clear_error(
    fitted_models, recipe, model_dtype, method
):
    est = fitted_models.get((model_dtype, recipe["cols"])) or fitted_models[model_dtype, 3]
    if not hasattr(est, method):
        method = "predict"
    with tempfile.TemporaryDirectory() as tmp:
        X_in, X = build(recipe, tmp)
        found = problems(recipe, X)
        if recipe["cols"] != est.n_features_in_ and recipe["cols"] and recipe["rows"]:
            found.append("features")
        values = numeric(X, recipe)
        if X.size and values.dtype.kind == "f" and not found:
            with np.errstate(over="ignore"):
                in_model_dtype = values.astype(model_dtype)
            if not np.isfinite(in_model_dtype).all():
                found.append("inf")  # finite in float64, overflows the float32 model
        try:
            out = getattr(est, method)(X_in)
        except (ValueError, TypeError) as error:
            if not found and np.abs(values.astype(float)).max() > 1e30:
                found.append("overflow")  # huge but finite: the outputs overflow
            check_error(error, found)
            return
        del X_in
    assert not found, f"{method} accepted an input with {found}"
    assert np.isfinite(np.asarray(out, dtype=float)).all() if method != "predict" else True
    expected = getattr(est, method)(plain(X, recipe).astype(model_dtype))
    np.testing.assert_array_equal(out, expected)


@given(
    first=st.sampled_from(["ints", "strings", "one class", "NaN labels"]),
    then=st.sampled_from(["same", "unseen", "NaN labels", "one of them"]),
    give_classes=st.booleans(),
)
def test_partial_fit_labels_give_a_model_or_a_clear_error(first, then, give_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = labels_for(first, 12, rng)
    clf = FNNClassifier(hidden_layer_sizes=(3,), random_state=0)
    classes = np.unique(y[~np.isnan(y)]) if y.dtype.kind == "f" else np.unique(y)
    try:
        clf.partial_fit(X, y, classes=classes if give_classes else None)
    except ValueError as error:
        reasons = {
            "classes must be passed": not give_classes,
            "NaN": first == "NaN labels",
        }
        assert any(word in str(error) for word, applies in reasons.items() if applies), error
        assert not hasattr(clf, "coefs_")
        return
    assert give_classes and first in ("ints", "strings", "one class")
    before = weights(clf)
    second = {
        "same": y,
        "unseen": np.array(["bird"] * 12) if first == "strings" else y + 10,
        "NaN labels": np.where(np.arange(12) == 0, np.nan, 0.0),
        "one of them": np.full(12, y[0]),
    }[then]
    try:
        clf.partial_fit(X, second)
    except ValueError as error:
        assert then in ("unseen", "NaN labels"), error
        message = str(error)
        assert ("not among the classes" in message) or ("NaN" in message), message
        assert_same_weights(weights(clf), before)  # a failed call changes nothing
        return
    assert then in ("same", "one of them")
    assert all(np.isfinite(w).all() for w in weights(clf))
    assert set(clf.predict(X)) <= set(clf.classes_)


@given(
    weight=st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e308, 1e-308, 3.0]),
    where=st.sampled_from(["one", "all"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_sample_weights_give_a_model_or_a_clear_error(weight, where, dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3)).astype(dtype)
    y = np.arange(20) % 2
    w = np.ones(20)
    if where == "one":
        w[3] = weight
    else:
        w[:] = weight
    clf = FNNClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    try:
        clf.fit(X, y, sample_weight=w)
    except ValueError as error:
        message = str(error)
        words = ["NaN", "infinity", "Negative", "all zero", "non-zero", "too large"]
        assert any(word in message for word in words), message
        return
    assert np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0
    assert all(np.isfinite(a).all() for a in weights(clf))


# ---------------------------------------------------------------------------
# fnn.functional: the Rust kernels agree with their NumPy twins or refuse


def kernel_array(draw, shape, dtype_kind):
    seed = draw(st.integers(0, 2**16))
    special = draw(st.sampled_from(SPECIALS[:4] + [None, None]))
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape)
    if special is not None and a.size:
        a.flat[rng.integers(a.size)] = special
    if dtype_kind == "complex":
        return a + 1j
    if dtype_kind == "sparse" and a.ndim == 2:
        return sp.csr_matrix(a)
    if dtype_kind == "fortran":
        return np.asfortranarray(a)
    if dtype_kind == "list":
        return a.tolist()
    return a.astype(dtype_kind)


KERNEL_KINDS = ["float64", "float32", "float16", "int64", "complex", "sparse", "fortran", "list"]


def bad_kernel_input(a):
    if sp.issparse(a):
        return "Sparse data"
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return "Complex data not supported"
    if a.size and not np.isfinite(a.astype(np.float64)).all():
        return "NaN" if np.isnan(a.astype(np.float64)).any() else "infinity"
    return None


@given(
    data=st.data(),
    rows=st.sampled_from([0, 1, 5]),
    sizes=st.sampled_from([(1, 1), (3, 4, 2), (2000, 2, 3)]),
    x_kind=st.sampled_from(KERNEL_KINDS),
    loss=st.sampled_from(["squared_error", "log_loss", "hinge", "huber"]),
)
def test_functional_forward_and_gradients_match_numpy_or_refuse(data, rows, sizes, x_kind, loss):
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(a, b)) * 0.3 for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [np.zeros(b) for b in sizes[1:]]
    if rows == 0 and x_kind == "list":
        x_kind = "float64"  # [] has no columns to check
    X = kernel_array(data.draw, (rows, sizes[0]), x_kind)
    Y = (
        np.eye(sizes[-1])[np.arange(rows) % sizes[-1]]
        if sizes[-1] > 1
        else (np.arange(rows) % 2.0)[:, None]
    )
    bad = bad_kernel_input(X)
    kwargs = dict(activation="tanh")
    try:
        out = functional.forward(coefs, intercepts, X, **kwargs)
    except (ValueError, TypeError) as error:
        assert bad is not None and bad in str(error), (bad, error)
        return
    assert bad is None, f"forward accepted {bad}"
    X_plain = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    np.testing.assert_allclose(
        out, reference.forward(coefs, intercepts, X_plain, **kwargs), rtol=1e-6
    )
    try:
        value, gW, gb = functional.loss_and_gradients(coefs, intercepts, X, Y, loss=loss, **kwargs)
    except ValueError as error:
        assert rows == 0 and "positive number of rows" in str(error), error
        return
    ref_value, ref_gW, ref_gb = reference.loss_and_gradients(
        coefs, intercepts, X_plain, Y, loss=loss, **kwargs
    )
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    for a, b in zip(gW + gb, ref_gW + ref_gb):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


@given(
    data=st.data(),
    name=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "identity", "softmax", "bogus"]),
    shape=st.sampled_from([(), (0,), (5,), (3, 0), (4, 3)]),
    kind=st.sampled_from(KERNEL_KINDS[:5] + ["bool"]),
)
def test_functional_activations_match_numpy_or_refuse(data, name, shape, kind):
    Z = kernel_array(data.draw, shape, kind) if kind != "bool" else np.ones(shape, dtype=bool)
    try:
        out = functional.activate(name, Z)
    except (ValueError, TypeError) as error:
        assert name == "bogus" or np.asarray(Z).dtype.kind == "c", error
        assert ("bogus" in str(error)) or ("Complex" in str(error))
        return
    assert name != "bogus" and np.asarray(Z).dtype.kind != "c"
    Z64 = np.asarray(Z, dtype=np.float64)
    with np.errstate(all="ignore"):
        expected = reference.activate(name, Z64)
    assert out.shape == np.shape(Z)
    rtol = 1e-6 if out.dtype == np.float64 else 1e-5  # float32 rounding
    np.testing.assert_allclose(out, expected, rtol=rtol, equal_nan=True)
    if name not in ("softmax",):
        derivative = functional.activation_derivative(name, out)
        with np.errstate(all="ignore"):
            expected = reference.activation_derivative(name, np.asarray(out, dtype=np.float64))
        np.testing.assert_allclose(derivative, expected, rtol=rtol, atol=1e-6, equal_nan=True)


@given(
    data=st.data(),
    n=st.sampled_from([0, 1, 7]),
    grad_kind=st.sampled_from(["float64", "float32", "complex", "list", "short"]),
    lr=st.sampled_from([1e-2, 0.0, -1.0, np.nan, np.inf]),
    solver=st.sampled_from(["sgd", "rmsprop", "adam"]),
    step=st.sampled_from([1, 0, -1, 2**64, 2.5]),
)
def test_functional_optimizer_steps_match_numpy_or_refuse(data, n, grad_kind, lr, solver, step):
    grad = kernel_array(
        data.draw,
        (n - 1,) if grad_kind == "short" and n else (n,),
        grad_kind.replace("short", "float64"),
    )
    params = np.linspace(-1, 1, n)
    slots = [np.zeros(n) for _ in range(3)]
    ref_params, ref_slots = params.copy(), [s.copy() for s in slots]

    def g(module):  # the NumPy twin takes arrays only
        return np.asarray(grad, dtype=np.float64) if module is reference else grad

    calls = {
        "sgd": lambda mod, p, s: mod.sgd_step(p, g(mod), s[0], lr=lr, momentum=0.9, nesterov=True),
        "rmsprop": lambda mod, p, s: mod.rmsprop_step(
            p, g(mod), *s, lr=lr, momentum=0.5, centered=True
        ),
        "adam": lambda mod, p, s: mod.adam_step(p, g(mod), *s, lr=lr, step=step, amsgrad=True),
    }
    try:
        calls[solver](functional, params, slots)
    except (ValueError, TypeError) as error:
        reasons = [
            bad_kernel_input(grad),
            "grad has" if grad_kind == "short" and n else None,
            "learning rate" if not (lr >= 0 and np.isfinite(lr)) else None,
            "step"
            if solver == "adam" and not (isinstance(step, int) and 1 <= step < 2**64)
            else None,
            "integer" if solver == "adam" and isinstance(step, float) else None,
        ]
        assert any(r and r in str(error) for r in reasons), (reasons, error)
        np.testing.assert_array_equal(params, ref_params)  # nothing half-applied
        return
    assert bad_kernel_input(grad) is None and lr >= 0 and np.isfinite(lr)
    calls[solver](reference, ref_params, ref_slots)
    np.testing.assert_allclose(params, ref_params, rtol=1e-12, atol=1e-15)


@given(
    seed=st.one_of(st.integers(-5, 2**64 + 5), st.sampled_from([1.5, "7", None])),
    n=st.sampled_from([0, 3, -1, 2**62]),
)
def test_functional_rng_bits_match_numpy_or_refuse(seed, n):
    try:
        bits = functional.rng_bits(seed, 1, 2, 3, n)
    except (ValueError, TypeError) as error:
        valid_seed = isinstance(seed, int) and 0 <= seed < 2**64
        assert not valid_seed or n < 0 or n == 2**62, error
        assert str(error)
        return
    expected = _rng.bits(_rng.key(seed, 1, 2, 3), np.arange(n, dtype=np.uint64))
    np.testing.assert_array_equal(bits, expected)


def _misaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` one byte past an aligned address."""
    buffer = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, dtype=a.dtype, buffer=buffer, offset=1)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def test_misaligned_arrays_train_predict_and_unpickle_like_aligned_ones():
    # What a dask worker can receive: contiguous blocks at odd addresses.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    params = dict(hidden_layer_sizes=(5,), max_iter=5, warm_start=True, random_state=0)
    aligned = FNNClassifier(**params).fit(X, y)
    odd = FNNClassifier(**params).fit(_misaligned(X), y)
    np.testing.assert_array_equal(odd.predict_proba(_misaligned(X)), aligned.predict_proba(X))
    sparse = sp.csr_matrix(X)
    sparse.data = _misaligned(sparse.data)
    np.testing.assert_array_equal(odd.predict_proba(sparse), aligned.predict_proba(X))
    # A model whose buffers come back misaligned (pickle protocol 5's
    # out-of-band buffers let the receiver place them anywhere).
    state = odd.__getstate__()
    state["_params"] = _misaligned(state["_params"])
    odd.__setstate__(state)
    odd._train_state.__setstate__(
        {**odd._train_state.__dict__, "slots": _misaligned(odd._train_state.slots)}
    )
    assert odd._params.flags.aligned and odd._train_state.slots.flags.aligned
    odd.fit(X, y)
    aligned.fit(X, y)
    np.testing.assert_array_equal(odd.predict_proba(X), aligned.predict_proba(X))
