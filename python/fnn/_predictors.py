"""Each fitted model's `fnn._core.Predictor`, made once and kept while the model stays.

A predictor holds the parsed network, its reusable inference workspace and
the parameter array, so that a one-row prediction on the Rust engine costs
little more than its forward pass. The cache sits outside the estimator:
scikit-learn expects prediction to leave an estimator's ``__dict__`` as it
was, and pickles, copies and clones then carry nothing from Rust.
"""

from __future__ import annotations

import weakref

from . import _core

#: id(estimator) -> (params, config, predictor, plain_allowed, weak reference to the estimator).
#: Keyed by id, not by a WeakKeyDictionary, whose lookup runs Python code and
#: makes a weak reference each call: the entry's weak reference drops it when
#: the estimator goes, before its id can be reused.
_CACHE: dict[int, tuple] = {}


def predictor_of(estimator, params, config) -> tuple[_core.Predictor, bool]:
    """Return the `Predictor` of the model ``(params, config)`` and whether plain arrays may use it.

    The cache entry remembers the parameter array and config it was built
    from: a fit, `partial_fit`, unpickling or loading puts new ones in place,
    and so gets a new predictor. In-place edits of the parameters (``coefs_``)
    need none, as the predictor reads the array on every call.

    Parameters
    ----------
    estimator : BaseFNN
        The fitted estimator; its ``_finish_name()`` says what the
        predictor's finished outputs are.
    params : ndarray
        Its flat parameter buffer.
    config : TrainConfig
        The configuration it was trained with.

    Returns
    -------
    predictor : fnn._core.Predictor
    plain_allowed : bool
        False when the estimator was fitted with feature names: then every
        input must pass scikit-learn's validation, which warns about arrays.
    """
    key = id(estimator)
    entry = _CACHE.get(key)
    if entry is None or entry[0] is not params or entry[1] is not config:
        predictor = _core.Predictor(config, params, estimator._finish_name())
        plain_allowed = getattr(estimator, "feature_names_in_", None) is None
        forget = weakref.ref(estimator, lambda _, key=key: _CACHE.pop(key, None))
        entry = (params, config, predictor, plain_allowed, forget)
        _CACHE[key] = entry
    return entry[2], entry[3]
