"""What a fit does when training diverges.

Three cases, each with its own message:

- numbers that left the finite range end the fit with scikit-learn's words
  (`NON_FINITE_WEIGHTS`) and fnn's advice, the estimator left as it was;
- under early stopping there is a model to fall back on instead: `fall_back`
  replays training to the epoch early stopping keeps, and warns;
- a final loss that stayed finite but far above that of a network that
  outputs zeros (e.g. Adam with a huge learning rate) only warns
  (`warn_if_diverged`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._losses import per_sample_loss
from ._warn import warn

#: scikit-learn's words for a fit whose numbers left the finite range (its
#: tests match them); fnn's advice follows.
NON_FINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)

#: A final training loss this many times that of a network whose outputs are
#: all zero (no weights needed, no penalty) means training diverged.
DIVERGENCE_FACTOR = 100

#: The zero-output loss below which the divergence check compares against
#: this instead (a zero network that fits the targets well, e.g. targets near
#: zero, would otherwise flag any ordinary loss).
_DIVERGENCE_LOSS_FLOOR = 1e-2

#: Rows per block when computing the loss of zero outputs: the loss's
#: temporaries for all of mnist's rows at once were the fit's peak memory.
_LOSS_BLOCK_ROWS = 4096


def fall_back(engine, config, params, state, data, log, start, name) -> None:
    """Keep the model early stopping would keep after training diverged, and warn.

    That is the one it would have restored (or the last finite one): one
    grid-search candidate with too high a learning rate then scores badly
    instead of failing the search. ``log`` gets a NaN epoch for the diverged
    one and is marked converged; the other arguments are those of `replay`,
    and ``name`` is the estimator's class name.
    """
    kept = replay(engine, config, params, state, data, log, start)
    warn(
        f"{name}: training diverged at epoch {len(log.loss) + 1} of this fit (the loss "
        f"is not finite); early stopping keeps the model of epoch {kept}"
        + (", the best validation score so far" if config.restore_best else "")
        + ". Lower learning_rate_init or scale the inputs (e.g. with StandardScaler).",
        ConvergenceWarning,
    )
    for record in (log.loss, log.val_loss, log.val_score):
        record.append(math.nan)
    log.converged = True


def replay(engine, config, params, state, data, log, start) -> int:
    """Train again from ``start()`` to the epoch early stopping keeps.

    That epoch is the best-scoring one under ``restore_best`` (the first of
    equal scores, as the engines snapshot), else the last finite one.
    Training is deterministic, so this rebuilds its parameters and state
    exactly, into ``params`` and ``state``; ``data`` is ``(X, Y, weights,
    validation)`` as the first run had them. Returns the epoch's number
    (0: the starting point).
    """
    scores = np.asarray(log.val_score, dtype=np.float64)
    if not config.restore_best:
        epochs = len(scores)
    elif np.isfinite(scores).any():
        epochs = int(np.nanargmax(np.where(np.isfinite(scores), scores, np.nan))) + 1
    else:
        epochs = 0
    replayed, replayed_state = start()
    if epochs:
        settings = dataclasses.replace(config, max_epochs=epochs, restore_best=False)
        engine.fit_epochs(settings, replayed, replayed_state, *data)
    params[...] = replayed
    for field in dataclasses.fields(state):
        setattr(state, field.name, getattr(replayed_state, field.name))
    return epochs


def warn_if_diverged(config, Y, weights, final_loss, name) -> None:
    """Warn when training ended far worse than a network that outputs zeros.

    Such a network needs no weights (so no penalty); ending over
    `DIVERGENCE_FACTOR` times its loss means the updates overshot, though
    every number stayed finite (e.g. Adam with a huge learning rate).
    """
    # Below this no zero-output loss can make it a divergence: skip the
    # pass over every target row (a fifth of a small fit's Python time).
    if not math.isfinite(final_loss) or final_loss <= DIVERGENCE_FACTOR * _DIVERGENCE_LOSS_FLOOR:
        return
    zero_loss = zero_output_loss(config, Y, weights)
    if final_loss > DIVERGENCE_FACTOR * max(zero_loss, _DIVERGENCE_LOSS_FLOOR):
        warn(
            f"{name}: training diverged: the final training loss "
            f"{final_loss:.3g} is over {DIVERGENCE_FACTOR} times the {zero_loss:.3g} of a "
            "network that outputs zeros. Lower learning_rate_init or scale the inputs "
            "(e.g. with StandardScaler); the estimator keeps the finite weights reached.",
            ConvergenceWarning,
        )


def zero_output_loss(config, Y, weights) -> float:
    """Return the (weighted) mean loss on ``Y`` of a network whose outputs are all zero."""
    total = 0.0
    for start in range(0, len(Y), _LOSS_BLOCK_ROWS):
        block = Y[start : start + _LOSS_BLOCK_ROWS]
        per_sample, _ = per_sample_loss(
            config.loss, config.output, np.zeros_like(block), block, config.huber_delta
        )
        if weights is not None:
            per_sample = per_sample * weights[start : start + _LOSS_BLOCK_ROWS]
        total += float(per_sample.sum(dtype=np.float64))
    return total / (len(Y) if weights is None else float(weights.sum(dtype=np.float64)))
