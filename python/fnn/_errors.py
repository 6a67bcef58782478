"""The exceptions fnn's engines raise beyond Python's own."""

from __future__ import annotations


class DivergedError(ValueError):
    """Training stopped because the loss or the parameters stopped being finite.

    Both engines raise it; it is a `ValueError`, so code that catches those
    keeps working.
    """
