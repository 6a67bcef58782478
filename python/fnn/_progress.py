"""What the estimators show and keep while they train.

`EpochReporter` is the callback handed to an engine: it records every epoch's
numbers (the estimators build ``loss_curve_`` and friends from them, also when
training is interrupted) and, depending on ``verbose``, draws a tqdm progress
bar or prints scikit-learn's lines per epoch, which scripts written for
``MLPClassifier`` read.
"""

from __future__ import annotations

import math
import sys


class EpochReporter:
    """Engine callback that records each epoch and reports progress.

    Parameters
    ----------
    verbose : int
        0: silent; 1: a tqdm progress bar (lines when ``bar=False``); 2 or
        more: ``Iteration N, loss = ...`` per epoch, and ``Validation score:
        ...`` when there is validation data, as scikit-learn prints them.
    total : int
        Most epochs this call can run (the bar's length).
    description : str
        Label of the bar and the printed lines (the estimator's class name).
    bar : bool, default=True
        Whether ``verbose=1`` may draw a bar; `partial_fit` runs one epoch per
        call, where a bar would be clutter.
    unit : str, default="epoch"
        What one report counts ("epoch", or "iteration" for L-BFGS).

    Attributes
    ----------
    losses, val_losses, val_scores : list of float
        One entry per reported epoch (NaN where there is no validation data).
    """

    def __init__(self, verbose, total, description, *, bar=True, unit="epoch"):
        self.losses: list[float] = []
        self.val_losses: list[float] = []
        self.val_scores: list[float] = []
        self._verbose = int(verbose)
        self._description = description
        self._unit = unit
        self._bar = None
        if self._verbose == 1 and bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=unit, leave=True)

    def __call__(self, epoch: int, loss: float, val_loss: float, val_score: float) -> bool:
        """Record one epoch; never asks the engine to stop (returns False)."""
        self.losses.append(float(loss))
        self.val_losses.append(float(val_loss))
        self.val_scores.append(float(val_score))
        if self._bar is not None:
            shown = {"loss": f"{loss:.4g}"}
            if not math.isnan(val_score):
                shown["val_score"] = f"{val_score:.4f}"
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)
        elif self._verbose >= 1:
            lines = f"Iteration {epoch}, loss = {loss:.8f}"
            if not math.isnan(val_score):
                lines += f"\nValidation score: {val_score:f}"
            print(lines, file=sys.stdout, flush=True)
        return False

    def close(self) -> None:
        """Finish the progress bar, if any (safe to call more than once)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> EpochReporter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
