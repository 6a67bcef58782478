"""FNNClassifier's behaviour beyond scikit-learn's generic checks."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, recall_score
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from fnn import FNNClassifier, resolve_threads
from fnn._progress import EpochReporter
from fnn._validation_split import Stratification, validation_split

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def small_digits(digits):
    X, y = digits
    return X[:400], y[:400]


def assert_same_model(a, b, rtol=0.0):
    for left, right in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(left, right, rtol=rtol, atol=0.0)


# ---------------------------------------------------------------------------
# Training equivalences


def test_repeated_partial_fit_equals_fit(small_digits):
    X, y = small_digits
    fitted = FNNClassifier(max_iter=6, n_iter_no_change=100, random_state=0).fit(X, y)
    stepped = FNNClassifier(random_state=0)
    for _ in range(6):
        stepped.partial_fit(X, y, classes=np.unique(y))
    assert_same_model(fitted, stepped)
    assert stepped.loss_curve_ == fitted.loss_curve_
    assert stepped.t_ == fitted.t_ == 6 * len(y)
    assert stepped.n_iter_ == 1 and fitted.n_iter_ == 6


def test_warm_start_continues_where_the_last_fit_stopped(small_digits):
    X, y = small_digits
    in_one_go = FNNClassifier(max_iter=8, n_iter_no_change=100, random_state=0).fit(X, y)
    in_two = FNNClassifier(max_iter=4, n_iter_no_change=100, warm_start=True, random_state=0)
    in_two.fit(X, y).fit(X, y)
    assert_same_model(in_one_go, in_two)
    assert len(in_two.loss_curve_) == 8 and in_two.n_iter_ == 4
    afresh = FNNClassifier(max_iter=4, n_iter_no_change=100, random_state=0).fit(X, y).fit(X, y)
    assert len(afresh.loss_curve_) == 4
    with pytest.raises(AssertionError):
        assert_same_model(in_one_go, afresh)


def test_warm_start_rejects_new_classes_in_sklearn_words_with_plain_labels(small_digits):
    X, y = small_digits
    clf = FNNClassifier(max_iter=2, warm_start=True, random_state=0).fit(X, y.astype(float))
    with pytest.raises(ValueError) as error:
        clf.fit(X[y < 5], y[y < 5].astype(float))
    assert str(error.value) == (
        "warm_start can only be used where `y` has the same classes as in the previous call "
        "to fit. Previously got [0. 1. 2. 3. 4. 5. 6. 7. 8. 9.], `y` has [0. 1. 2. 3. 4.]. "
        "Fit with warm_start=False to start afresh on these classes."
    )


def test_early_stopping_split_errors_in_sklearn_words(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match=r"^The validation set is too small\. .* hold 1 of 5"):
        FNNClassifier(early_stopping=True).fit(X[:5], y[:5] % 2)
    labels = np.array(["a"] * 10 + ["b"])
    with pytest.raises(ValueError) as error:
        FNNClassifier(early_stopping=True).fit(X[:11], labels)
    assert str(error.value).startswith(
        "The least populated classes in y have only 1 member, which is too few. The minimum "
        "number of groups for any class cannot be less than 2. Classes with too few members "
        "are: ['True'], i.e. the classes ['b'] of y. "
    )
    three = np.array([0] * 10 + [1] * 10 + [2])
    with pytest.raises(ValueError, match=r"too few members are: \[2\]\. The stratified"):
        FNNClassifier(early_stopping=True).fit(X[:21], three)


def test_integer_sample_weights_equal_repeated_rows():
    X, y = make_classification(n_samples=40, n_features=6, n_informative=4, random_state=0)
    weights = np.random.default_rng(0).integers(0, 4, size=len(y))
    repeated = FNNClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    repeated.fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    weighted = FNNClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-9)


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop", "adamw", "lbfgs"])
def test_numpy_and_rust_engines_give_the_same_model(small_digits, solver):
    X, y = small_digits
    settings = dict(
        hidden_layer_sizes=(24, 12),
        activation=["leaky_relu", "tanh"],
        solver=solver,
        alpha=1e-3,
        l1=1e-4,
        dropout=0.0 if solver == "lbfgs" else [0.2, 0.1],
        batch_size=64,
        max_iter=4,
        random_state=3,
    )
    rust = FNNClassifier(engine="rust", **settings).fit(X, y)
    numpy = FNNClassifier(engine="numpy", **settings).fit(X, y)
    assert_same_model(rust, numpy, rtol=1e-9)
    np.testing.assert_allclose(rust.loss_curve_, numpy.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(rust.predict_proba(X), numpy.predict_proba(X), rtol=1e-9)


def test_sparse_input_gives_the_same_model_as_dense(small_digits):
    X, y = small_digits
    dense = FNNClassifier(max_iter=5, random_state=0).fit(X, y)
    sparse = FNNClassifier(max_iter=5, random_state=0).fit(sp.csr_matrix(X), y)
    assert_same_model(dense, sparse, rtol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_array(X)), dense.predict_proba(X))


def test_float32_input_trains_in_float32(small_digits):
    X, y = small_digits
    single = FNNClassifier(max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    double = FNNClassifier(max_iter=20, random_state=0).fit(X, y)
    assert single.coefs_[0].dtype == np.float32 and double.coefs_[0].dtype == np.float64
    assert single.predict_proba(X).dtype == np.float32
    # The same training, rounded differently.
    np.testing.assert_allclose(single.predict_proba(X), double.predict_proba(X), atol=1e-4)


# ---------------------------------------------------------------------------
# Early stopping and validation


def test_early_stopping_restores_the_best_epoch(digits):
    X, y = digits
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0, stratify=y)
    settings = dict(
        hidden_layer_sizes=(64,), learning_rate_init=0.05, early_stopping=True,
        n_iter_no_change=5, max_iter=200, random_state=0,
    )  # fmt: skip
    best = FNNClassifier(**settings).fit(X_train, y_train, eval_set=(X_val, y_val))
    last = FNNClassifier(restore_best_weights=False, **settings)
    last.fit(X_train, y_train, eval_set=(X_val, y_val))

    scores = best.validation_scores_
    assert best.n_iter_ == len(scores) > int(np.argmax(scores)) + 1  # it ran past the best
    assert best.best_validation_score_ == max(scores)
    assert best.score(X_val, y_val) == pytest.approx(max(scores), abs=1e-12)
    assert last.score(X_val, y_val) == pytest.approx(scores[-1], abs=1e-12)
    assert best.best_loss_ is None
    assert len(best.validation_loss_curve_) == len(scores)


def test_validation_fraction_split_is_stratified_and_reproducible():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train, held_out = validation_split(7, 100, 0.1, stratify=Stratification(labels, np.arange(3)))
    again = validation_split(7, 100, 0.1, stratify=Stratification(labels, np.arange(3)))
    assert np.array_equal(held_out, again[1])
    assert np.bincount(labels[held_out]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([train, held_out]).tolist()) == list(range(100))
    other_seed = validation_split(8, 100, 0.1, stratify=Stratification(labels, np.arange(3)))[1]
    assert not np.array_equal(held_out, other_seed)


def test_early_stopping_without_eval_set_holds_out_validation_fraction(small_digits):
    X, y = small_digits
    clf = FNNClassifier(early_stopping=True, max_iter=30, random_state=0).fit(X, y)
    assert clf.t_ == clf.n_iter_ * (len(y) - int(np.ceil(0.1 * len(y))))
    assert len(clf.validation_scores_) == clf.n_iter_


def test_eval_set_without_early_stopping_is_monitored_only(small_digits, digits):
    X, y = small_digits
    X_val, y_val = digits[0][1000:1200], digits[1][1000:1200]
    clf = FNNClassifier(max_iter=10, n_iter_no_change=100, random_state=0)
    clf.fit(X, y, eval_set=(X_val, y_val))
    assert clf.n_iter_ == 10
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X_val, y_val), abs=1e-12)
    assert clf.best_validation_score_ is None


def test_max_iter_gives_a_convergence_warning(small_digits):
    X, y = small_digits
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        FNNClassifier(max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        FNNClassifier(max_iter=3, random_state=0).partial_fit(X, y, classes=np.unique(y))


def test_divergence_raises_and_keeps_the_previous_model(small_digits):
    X, y = small_digits
    settings = dict(loss="squared_error", activation="identity", n_iter_no_change=100)
    clf = FNNClassifier(max_iter=3, random_state=0, warm_start=True, **settings).fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(solver="sgd", learning_rate_init=1e3, momentum=0.0, max_iter=100)
    with pytest.raises(ValueError, match="training diverged"):
        clf.fit(X * 1e3, y)
    for old, now in zip(before, clf.coefs_):
        np.testing.assert_array_equal(old, now)
    assert len(clf.loss_curve_) == 3 and clf.solver == "sgd"


# ---------------------------------------------------------------------------
# Predictions


def test_predict_proba_rows_sum_to_one_and_log_proba_is_exact(small_digits):
    X, y = small_digits
    for labels in (y, y % 2):
        clf = FNNClassifier(max_iter=30, random_state=0).fit(X, labels)
        proba = clf.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
        np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))
    # Far from the data the probabilities underflow; their logarithms must not.
    clf = FNNClassifier(max_iter=30, random_state=0).fit(X, y)
    far = X[:5] * 1e4
    assert (clf.predict_proba(far) == 0).any()
    assert np.isfinite(clf.predict_log_proba(far)).all()


def test_binary_decision_function_is_positive_for_the_second_class(small_digits):
    X, y = small_digits
    labels = np.where(y % 2 == 1, "odd", "even")
    for loss in ("log_loss", "hinge", "squared_hinge", "squared_error"):
        clf = FNNClassifier(loss=loss, max_iter=40, random_state=0).fit(X, labels)
        scores = clf.decision_function(X)
        assert scores.shape == (len(y),)
        np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "odd", "even"))
        assert clf.score(X, labels) > 0.9


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "squared_error"])
def test_losses_without_probabilities_hide_predict_proba(small_digits, loss):
    X, y = small_digits
    clf = FNNClassifier(loss=loss, max_iter=40, random_state=0).fit(X, y)
    assert not hasattr(clf, "predict_proba") and not hasattr(clf, "predict_log_proba")
    assert clf.out_activation_ == "identity"
    assert clf.decision_function(X).shape == (len(y), 10)
    assert clf.score(X, y) > 0.9


def test_string_labels_and_multilabel_targets(small_digits):
    X, y = small_digits
    names = np.array("zero one two three four five six seven eight nine".split())
    clf = FNNClassifier(max_iter=40, random_state=0).fit(X, names[y])
    assert clf.classes_.tolist() == sorted(names.tolist())
    assert clf.score(X, names[y]) > 0.9

    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    multi = FNNClassifier(max_iter=300, random_state=0).fit(X, Y)
    assert multi.out_activation_ == "logistic" and multi.classes_.tolist() == [0, 1, 2, 3]
    assert multi.predict(X).shape == Y.shape and multi.predict_proba(X).shape == Y.shape
    np.testing.assert_array_equal(multi.predict(X), multi.predict_proba(X) > 0.5)
    assert multi.score(X, Y) > 0.6  # subset accuracy
    with pytest.raises(ValueError, match="Multi-label targets need loss='log_loss'"):
        FNNClassifier(loss="hinge").fit(X, Y)


def test_loss_is_mlpclassifiers_log_loss_plus_scaled_l2(small_digits):
    X, y = small_digits
    # A vanishing learning rate: the last epoch's loss is the final model's.
    clf = FNNClassifier(learning_rate_init=1e-12, alpha=0.5, max_iter=1, random_state=0)
    clf.fit(X, y)
    # Each of the two minibatches of 200 adds alpha/2 * sum(W**2) / 200, as in
    # MLPClassifier, so the epoch's mean carries the penalty twice over n.
    penalty = 2 * 0.5 * 0.5 * sum((W**2).sum() for W in clf.coefs_) / len(y)
    assert clf.loss_ == pytest.approx(log_loss(y, clf.predict_proba(X)) + penalty, rel=1e-9)


# ---------------------------------------------------------------------------
# What MLPClassifier does not offer


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        n_samples=600, n_features=8, weights=[0.92], flip_y=0.02, class_sep=0.6, random_state=1
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    settings = dict(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    plain = FNNClassifier(**settings).fit(X_train, y_train)
    balanced = FNNClassifier(class_weight="balanced", **settings).fit(X_train, y_train)
    plain_recall = recall_score(y_test, plain.predict(X_test))
    balanced_recall = recall_score(y_test, balanced.predict(X_test))
    assert balanced_recall > plain_recall + 0.1


def test_class_weight_dict_equals_sample_weights(small_digits):
    X, y = small_digits
    weights = {c: 1.0 + c for c in range(10)}
    by_class = FNNClassifier(class_weight=weights, max_iter=5, random_state=0).fit(X, y)
    by_sample = FNNClassifier(max_iter=5, random_state=0).fit(X, y, sample_weight=1.0 + y)
    assert_same_model(by_class, by_sample, rtol=1e-12)
    with pytest.raises(ValueError, match="'balanced' is not available in partial_fit"):
        FNNClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
def test_step_schedule_with_zero_gamma_freezes_training_for_every_solver(small_digits, solver):
    X, y = small_digits
    settings = dict(
        solver=solver, learning_rate="step", lr_step_size=2, lr_gamma=1e-300,
        n_iter_no_change=100, random_state=0,
    )  # fmt: skip
    two = FNNClassifier(max_iter=2, **settings).fit(X, y)
    five = FNNClassifier(max_iter=5, **settings).fit(X, y)
    assert_same_model(two, five, rtol=1e-12)
    assert two.loss_curve_[1] < two.loss_curve_[0]  # it did learn before the drop


def test_cosine_schedule_anneals_between_learning_rate_init_and_lr_min(small_digits):
    X, y = small_digits
    settings = dict(max_iter=5, n_iter_no_change=100, random_state=0)
    constant = FNNClassifier(**settings).fit(X, y)
    # With lr_min equal to the initial rate there is nothing to anneal.
    flat = FNNClassifier(learning_rate="cosine", lr_min=1e-3, **settings).fit(X, y)
    cosine = FNNClassifier(learning_rate="cosine", **settings).fit(X, y)
    assert_same_model(constant, flat)
    with pytest.raises(AssertionError):
        assert_same_model(constant, cosine, rtol=1e-6)


def test_dropout_l1_and_per_layer_activations_train(small_digits):
    X, y = small_digits
    clf = FNNClassifier(
        hidden_layer_sizes=(64, 32), activation=["leaky_relu", "sigmoid"], dropout=[0.3, 0.1],
        l1=0.03, solver="rmsprop", max_iter=60, random_state=0,
    )  # fmt: skip
    clf.fit(X, y)
    assert clf.score(X, y) > 0.9
    assert clf.n_layers_ == 4
    no_l1 = clone(clf).set_params(l1=0.0).fit(X, y)
    # L1 drives weights to zero: many more of them end up tiny.
    tiny = np.mean(np.abs(clf.coefs_[0]) < 1e-3)
    assert tiny > 3 * np.mean(np.abs(no_l1.coefs_[0]) < 1e-3)


def test_parameters_that_depend_on_each_other_are_checked_at_fit(small_digits):
    X, y = small_digits
    with pytest.raises(InvalidParameterError, match="'activation' parameter"):
        FNNClassifier(hidden_layer_sizes=(5, 5), activation=["relu"]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'dropout' parameter"):
        FNNClassifier(hidden_layer_sizes=(5,), dropout=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        FNNClassifier(solver="lbfgs", dropout=0.1).fit(X, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        FNNClassifier().partial_fit(X, y)
    assert not hasattr(FNNClassifier(solver="lbfgs"), "partial_fit")


def test_lbfgs_follows_mlpclassifier(small_digits):
    X, y = small_digits
    with pytest.warns(ConvergenceWarning, match="L-BFGS"):
        short = FNNClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    assert short.n_iter_ == 5 and len(short.loss_curve_) == 5
    assert short.loss_ == short.loss_curve_[-1]
    full = FNNClassifier(solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    assert full.score(X, y) == 1.0 and full.n_iter_ < 500


def test_verbose_shows_a_progress_bar_or_lines(small_digits, capsys):
    X, y = small_digits
    FNNClassifier(max_iter=3, verbose=1, random_state=0, early_stopping=True).fit(X, y)
    bar = capsys.readouterr().err
    assert "3/3" in bar and "loss=" in bar and "val_score=" in bar
    clf = FNNClassifier(max_iter=3, verbose=2, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    # scikit-learn's lines, as scripts written for MLPClassifier read them.
    assert lines == [f"Iteration {e}, loss = {clf.loss_curve_[e - 1]:.8f}" for e in (1, 2, 3)]
    clf = FNNClassifier(max_iter=2, verbose=3, early_stopping=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[:2] == [
        f"Iteration 1, loss = {clf.loss_curve_[0]:.8f}",
        f"Validation score: {clf.validation_scores_[0]:f}",
    ]
    assert len(lines) == 4


def test_pickle_round_trip_keeps_the_model_and_records_versions(small_digits):
    X, y = small_digits
    clf = FNNClassifier(max_iter=5, random_state=0).fit(X, y)
    data = pickle.dumps(clf)
    assert b"_sklearn_version" in data
    copy = pickle.loads(data)
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert not hasattr(copy, "_sklearn_version")
    # The views survive: writing through coefs_ changes the predictions.
    copy.coefs_[0][...] = 0
    assert not np.array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert sklearn.__version__.encode() in data


def test_n_jobs_maps_to_engine_threads(small_digits):
    X, y = small_digits
    for n_jobs in (None, 3, -1):
        clf = FNNClassifier(hidden_layer_sizes=(4,), max_iter=1, n_jobs=n_jobs).fit(X, y)
        assert clf._config.threads == resolve_threads(n_jobs)
    assert resolve_threads(-1000) == 1


def test_ctrl_c_raises_after_keeping_the_epochs_trained_so_far(small_digits, monkeypatch):
    X, y = small_digits
    record = EpochReporter.__call__

    def interrupt_after_two_epochs(reporter, *epoch_report):
        record(reporter, *epoch_report)
        if len(reporter.losses) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochReporter, "__call__", interrupt_after_two_epochs)
    # verbose=2 makes the engine call the reporter after every epoch.
    clf = FNNClassifier(max_iter=50, random_state=0, verbose=2)
    with pytest.raises(KeyboardInterrupt, match="keeps the weights reached"):
        clf.fit(X, y)
    monkeypatch.undo()
    two_epochs = FNNClassifier(max_iter=2, random_state=0).fit(X, y)
    assert clf.n_iter_ == 2 and clf.loss_curve_ == two_epochs.loss_curve_
    assert_same_model(clf, two_epochs)


def test_assigning_coefs_writes_into_the_model(small_digits):
    X, y = small_digits
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    clf.coefs_ = [np.zeros_like(W) for W in clf.coefs_]
    clf.intercepts_ = [np.arange(b.size, dtype=float) for b in clf.intercepts_]
    # Every hidden unit is relu(0) = 0, so the output is the last bias.
    assert (clf.predict(X) == 9).all()
    with pytest.raises(ValueError, match="shapes"):
        clf.coefs_ = [np.zeros((2, 2))]
    assert not hasattr(FNNClassifier(), "coefs_")
