"""Parameter validation that is not repeated for parameters already found valid.

scikit-learn validates every parameter against its constraints on every
`fit` and `partial_fit` call: ~85 µs, a twentieth of a streamed 200-row
`partial_fit` call (BENCHMARKS.md, "What one call costs"). Validity is a function of the
class and the values alone, so a set of values found valid once is valid
again. Only values that cannot change in place are remembered: numbers,
strings, booleans, None and tuples of them, each with its exact type (so
``True`` is not taken for ``1``). Any other value (a list, a dict, an
object) is validated every time.
"""

from __future__ import annotations

import numpy as np

_SCALARS = (bool, int, float, str, type(None), np.bool_, np.integer, np.floating)

#: Keys of parameter sets found valid; cleared when it reaches this size.
_VALID: set = set()
_MAX_REMEMBERED = 1024


def _frozen(value):
    """Return a hashable key of ``value`` with its type, or None if it can change in place."""
    if isinstance(value, _SCALARS):
        return (type(value), value)
    if type(value) is tuple:
        items = tuple(_frozen(v) for v in value)
        return None if None in items else (tuple, items)
    return None


def validate_once(estimator, names, validate) -> None:
    """Call ``validate()`` unless ``estimator``'s parameter values passed it before.

    Parameters
    ----------
    estimator : BaseFNN
        The estimator whose parameters to validate.
    names : tuple of str
        Its parameter names (``get_params``' keys).
    validate : callable
        scikit-learn's validation of them; raises when one is invalid.
    """
    items = tuple(_frozen(getattr(estimator, name)) for name in names)
    key = None if None in items else (type(estimator), items)
    try:
        if key is not None and key in _VALID:
            return
    except TypeError:
        # A subclass of a number or a string that is not hashable.
        key = None
    validate()
    if key is not None:
        if len(_VALID) >= _MAX_REMEMBERED:
            _VALID.clear()
        _VALID.add(key)
