"""fnn's warnings, issued from one place and pointing at the user's code.

A warning names the line that caused it: the first frame outside fnn, found
by walking the stack here, so that no call site counts its own depth. The
walk also passes over scikit-learn's `with_callbacks` wrapper, which stands
between a user's ``fit`` and fnn's own code.
"""

from __future__ import annotations

import os
import sys
import warnings

from ._callbacks import with_callbacks

#: Files whose frames a warning passes over: fnn's own, and the file of the
#: callback wrapper around ``fit`` (fnn's own on scikit-learn < 1.9).
_PASSED_OVER = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.abspath(sys.modules[with_callbacks.__module__].__file__),
)


def warn(message, category=None) -> None:
    """Issue a warning attributed to the first frame outside fnn.

    Parameters
    ----------
    message : str or Warning
        The text, or a warning instance (whose class is then the category).
    category : type of Warning, optional
        The warning's class for a text message (`UserWarning` if omitted).
    """
    warnings.warn(message, category, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """Return the ``stacklevel`` of the innermost frame outside fnn, as `warn` passes it."""
    level = 2  # warn's caller
    frame = sys._getframe(2)
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _PASSED_OVER
    ):
        frame = frame.f_back
        level += 1
    return level
