"""The hold-out set for early stopping, drawn from the counter-based RNG.

The split is a pure function of ``(seed, n_samples, fraction, labels)``: each
row gets the uniform number ``uniform(key(seed, SPLIT, 0, 0), row)`` (spec,
section 2) and the rows with the smallest numbers are held out. Both engines
therefore see the same split, and a warm start on the same data holds out the
same rows again.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._rng import SPLIT, key, uniform


class Stratification(NamedTuple):
    """What a stratified split needs, and what its error message names.

    ``classes[i]`` is the label of class index ``i``; ``names``, when given,
    are scikit-learn's names of the classes in its message (it stratifies on
    the encoded targets), shown before the labels.
    """

    class_of_row: np.ndarray
    classes: np.ndarray
    names: list[str] | None = None


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


def _check_every_class_has_two(stratify, indices, class_sizes) -> None:
    if class_sizes.min() >= 2:
        return
    rare = indices[class_sizes < 2]
    labels = str(stratify.classes[rare])
    names = labels if stratify.names is None else str([stratify.names[i] for i in rare])
    raise ValueError(
        # scikit-learn's words, which its tests match.
        "The least populated classes in y have only 1 member, which is too few. "
        "The minimum number of groups for any class cannot be less than 2. "
        f"Classes with too few members are: {names}"
        + ("" if stratify.names is None else f", i.e. the classes {labels} of y")
        + ". The stratified validation split for early stopping needs 2 samples of "
        "each class: pass eval_set, or turn early_stopping off."
    )


def validation_split(
    seed: int,
    n_samples: int,
    fraction: float,
    stratify: Stratification | None = None,
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
    stratify : Stratification, default=None
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
    if stratify is not None:
        # Checked first, as scikit-learn's split does.
        indices, class_of_row, class_sizes = np.unique(
            stratify.class_of_row, return_inverse=True, return_counts=True
        )
        _check_every_class_has_two(stratify, indices, class_sizes)
    n_validation = math.ceil(fraction * n_samples)
    if n_validation < 2 or n_validation >= n_samples:
        # scikit-learn's first sentence, which its tests match, then the numbers.
        too_small = "The validation set is too small. " if n_validation < 2 else ""
        raise ValueError(
            f"{too_small}Increase 'validation_fraction' or the size of your dataset: the "
            f"validation set for early stopping would hold {n_validation} of {n_samples} "
            "samples; it needs at least 2 and must leave some for training. Or pass eval_set."
        )
    draws = _row_draws(seed, n_samples)
    if stratify is None:
        held_out = np.argsort(draws, kind="stable")[:n_validation]
    else:
        parts = []
        for c, count in enumerate(_per_class_counts(class_sizes, n_validation)):
            rows = np.flatnonzero(class_of_row == c)
            parts.append(rows[np.argsort(draws[rows], kind="stable")[:count]])
        held_out = np.concatenate(parts)
    is_validation = np.zeros(n_samples, dtype=bool)
    is_validation[held_out] = True
    return np.flatnonzero(~is_validation), np.flatnonzero(is_validation)
