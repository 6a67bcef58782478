"""The hold-out set for early stopping, drawn from the counter-based RNG.

The split is a pure function of ``(seed, n_samples, fraction, labels)``: each
row gets the uniform number ``uniform(key(seed, SPLIT, 0, 0), row)`` (spec,
section 2) and the rows with the smallest numbers are held out. Both engines
therefore see the same split, and a warm start on the same data holds out the
same rows again.
"""

from __future__ import annotations

import math

import numpy as np

from ._rng import SPLIT, key, uniform


def _row_draws(seed: int, n_samples: int) -> np.ndarray:
    return uniform(key(seed, SPLIT, 0, 0), np.arange(n_samples, dtype=np.uint64))


def _per_class_counts(class_sizes: np.ndarray, n_validation: int) -> np.ndarray:
    """Share ``n_validation`` rows among classes in proportion to their sizes.

    Largest remainders: every class gets the floor of its exact share, and the
    rows left over go to the classes with the largest fractional parts (ties
    to the lower class index), so the counts add up exactly.
    """
    exact = n_validation * class_sizes / class_sizes.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = n_validation - int(counts.sum())
    by_remainder = np.argsort(-(exact - counts), kind="stable")
    counts[by_remainder[:leftover]] += 1
    return counts


def validation_split(
    seed: int,
    n_samples: int,
    fraction: float,
    stratify: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n_samples)`` into training and validation rows.

    Parameters
    ----------
    seed : int
        The estimator's seed (the engine's ``TrainConfig.seed``).
    n_samples : int
        Number of rows.
    fraction : float
        Share of rows held out, rounded up as `sklearn.model_selection.train_test_split`
        rounds its test size.
    stratify : ndarray of int of shape (n_samples,), default=None
        Class index of every row; when given, every class keeps its share of
        the rows in both parts.

    Returns
    -------
    train, validation : ndarray of int
        Row indices, each in increasing order.

    Raises
    ------
    ValueError
        If the validation set would have fewer than 2 rows, the training set
        none, or a stratifying class fewer than 2 members.
    """
    n_validation = math.ceil(fraction * n_samples)
    if n_validation < 2 or n_validation >= n_samples:
        raise ValueError(
            f"The validation set for early stopping would hold {n_validation} of "
            f"{n_samples} samples; it needs at least 2 and must leave some for "
            "training. Change validation_fraction or pass eval_set."
        )
    draws = _row_draws(seed, n_samples)
    if stratify is None:
        held_out = np.argsort(draws, kind="stable")[:n_validation]
    else:
        classes, class_of_row, class_sizes = np.unique(
            stratify, return_inverse=True, return_counts=True
        )
        if class_sizes.min() < 2:
            rare = classes[np.argmin(class_sizes)]
            raise ValueError(
                f"Class {rare!r} has a single sample, so the stratified validation "
                "split for early stopping cannot put it on both sides. Pass eval_set "
                "or turn early_stopping off."
            )
        parts = []
        for c, count in enumerate(_per_class_counts(class_sizes, n_validation)):
            rows = np.flatnonzero(class_of_row == c)
            parts.append(rows[np.argsort(draws[rows], kind="stable")[:count]])
        held_out = np.concatenate(parts)
    is_validation = np.zeros(n_samples, dtype=bool)
    is_validation[held_out] = True
    return np.flatnonzero(~is_validation), np.flatnonzero(is_validation)
