"""scikit-learn's callback API (`sklearn.callback`, scikit-learn >= 1.9).

A fit is a root task with one subtask per epoch (per L-BFGS iteration). The
``fitted_estimator`` a hook gets after epoch i is the model a fit of i epochs
ends with, to the bit: training is deterministic, so the tests compare with
equality. The fitted estimator follows ``restore_best_weights`` as such a fit
would; under ``learning_rate='cosine'`` the schedule's length is ``max_iter``,
so there it is the model of a longer fit stopped after epoch i.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("sklearn.callback")
from sklearn.callback import ProgressBar, ScoringMonitor  # noqa: E402

import fnn._rust_engine  # noqa: E402
from fnn import FNNClassifier, FNNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_ALL, Y_ALL = load_digits(return_X_y=True)
X, Y = X_ALL[:300] / 16, Y_ALL[:300]
Y_REG = X[:, :8].sum(axis=1)


class Recorder:
    """Keeps each hook call and the fitted estimator it was handed."""

    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.calls.append(("setup", None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", None, None))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("begin", context.task_name, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.task_name, fitted_estimator))
        ended = sum(1 for hook, name, _ in self.calls if hook == "end" and name != "fit")
        return self.stop_after is not None and ended >= self.stop_after

    def fitted(self, hook, task):
        return [est for h, name, est in self.calls if h == hook and name == task]


def fit_quietly(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def assert_same_fitted_model(got, expected, X):
    np.testing.assert_array_equal(got._params, expected._params)
    # The configurations differ only by the length of the fit (max_iter).
    length = dict(max_epochs=expected._config.max_epochs, t_max=expected._config.t_max)
    assert dataclasses.replace(got._config, **length) == expected._config
    for name in ("n_iter_", "t_", "loss_curve_", "best_loss_", "best_validation_score_"):
        assert getattr(got, name) == getattr(expected, name), name
    np.testing.assert_array_equal(got.validation_scores_, expected.validation_scores_)
    for field in dataclasses.fields(expected._train_state):
        np.testing.assert_array_equal(
            getattr(got._train_state, field.name),
            getattr(expected._train_state, field.name),
            err_msg=field.name,
        )
    np.testing.assert_array_equal(got.predict(X), expected.predict(X))


CASES = {
    "adam": (FNNClassifier, Y, dict(max_iter=6)),
    "sgd-early-stopping-restores-best": (
        FNNClassifier,
        Y,
        dict(
            solver="sgd",
            learning_rate_init=0.3,
            early_stopping=True,
            n_iter_no_change=3,
            max_iter=12,
        ),
    ),  # fmt: skip
    "adaptive-train-loss": (
        FNNRegressor,
        Y_REG,
        dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=1, max_iter=9),
    ),
    "rmsprop-regressor-numpy-engine": (
        FNNRegressor,
        Y_REG,
        dict(solver="rmsprop", engine="numpy", max_iter=4),
    ),
    "lbfgs": (FNNClassifier, Y, dict(solver="lbfgs", max_iter=7)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fitted_estimator_after_step_i_is_the_model_of_an_i_step_fit(case):
    cls, y, params = CASES[case]
    params = dict(hidden_layer_sizes=(12,), random_state=0, **params)
    recorder = Recorder()
    model = fit_quietly(cls(**params).set_callbacks(recorder), X, y)
    task = "iteration" if params.get("solver") == "lbfgs" else "epoch"
    # (L-BFGS ends one more task, without a model: see the next test.)
    after = [fitted for fitted in recorder.fitted("end", task) if fitted is not None]
    assert len(after) == model.n_iter_ >= 3
    for i, fitted in enumerate(after, start=1):
        assert fitted is not model
        assert_same_fitted_model(fitted, fit_quietly(cls(**{**params, "max_iter": i}), X, y), X)
    # The next step begins from where the last one ended.
    before = recorder.fitted("begin", task)
    for begun, ended in zip(before[1:], after):
        np.testing.assert_array_equal(begun._params, ended._params)
    assert before[0].n_iter_ == 0 and before[0].loss_curve_ == []
    # The fit's own task ends with the fitted model itself.
    assert_same_fitted_model(recorder.fitted("end", "fit")[0], model, X)


@pytest.mark.parametrize("case", ["adam", "sgd-early-stopping-restores-best", "lbfgs"])
def test_one_task_per_step_begun_and_ended_in_order(case):
    cls, y, params = CASES[case]
    recorder = Recorder()
    model = fit_quietly(cls(hidden_layer_sizes=(12,), random_state=0, **params), X, y)
    recorder_model = cls(hidden_layer_sizes=(12,), random_state=0, **params)
    fit_quietly(recorder_model.set_callbacks(recorder), X, y)
    task = "iteration" if params.get("solver") == "lbfgs" else "epoch"
    expected = ["setup", ("begin", "fit")]
    expected += [("begin", task), ("end", task)] * model.n_iter_
    if task == "iteration":
        # As scikit-learn's LogisticRegression: SciPy's callback cannot tell the
        # last iteration, so one more task is begun, and ended without a model.
        expected += [("begin", task), ("end", task)]
        assert recorder.calls[-3][2] is None
    expected += [("end", "fit"), "teardown"]
    calls = [c[0] if c[0] in ("setup", "teardown") else c[:2] for c in recorder.calls]
    assert calls == expected
    if task == "epoch":  # early stopping is foreseen: no task begins that never runs
        assert all(fitted is not None for _, name, fitted in recorder.calls if name == task)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_a_callback_can_stop_the_fit(solver):
    params = dict(hidden_layer_sizes=(12,), solver=solver, max_iter=50, random_state=0)
    stopper = Recorder(stop_after=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping on request is no failure
        stopped = FNNClassifier(**params).set_callbacks(stopper).fit(X, Y)
    assert stopped.n_iter_ == 3
    assert_same_fitted_model(
        stopped, fit_quietly(FNNClassifier(**{**params, "max_iter": 3}), X, Y), X
    )


def test_partial_fit_is_a_fit_task_of_one_epoch():
    recorder = Recorder()
    clf = FNNClassifier(hidden_layer_sizes=(12,), random_state=0).set_callbacks(recorder)
    clf.partial_fit(X, Y, classes=np.unique(Y))
    clf.partial_fit(X, Y)
    names = [c[:2] for c in recorder.calls if c[0] in ("begin", "end")]
    assert names == [("begin", "fit"), ("begin", "epoch"), ("end", "epoch"), ("end", "fit")] * 2
    np.testing.assert_array_equal(recorder.fitted("end", "epoch")[-1]._params, clf._params)


def test_without_callbacks_the_engine_gets_no_python_callback(monkeypatch):
    seen = []
    original = fnn._rust_engine.RustEngine.fit_epochs

    def spy(self, *args, **kwargs):
        seen.append(args[7] if len(args) > 7 else kwargs.get("callback"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fnn._rust_engine.RustEngine, "fit_epochs", spy)
    clf = FNNClassifier(hidden_layer_sizes=(12,), max_iter=3, random_state=0)
    fit_quietly(clf, X, Y)
    fit_quietly(make_pipeline(StandardScaler(), clone(clf)), X, Y)
    assert seen == [None, None]
    fit_quietly(clf.set_callbacks(Recorder()), X, Y)
    assert callable(seen[-1])
    assert not hasattr(clf, "_callback_fit_ctx")  # torn down after the fit


def test_progress_bar_and_scoring_monitor_on_a_bare_estimator(capsys):
    pytest.importorskip("rich")
    monitor = ScoringMonitor(scoring="accuracy")
    clf = FNNClassifier(hidden_layer_sizes=(12,), max_iter=4, random_state=0)
    fit_quietly(clf.set_callbacks(ProgressBar(), monitor), X, Y)
    out = capsys.readouterr().out
    assert "FNNClassifier - fit" in out and "100%" in out
    rows = monitor.get_logs().data
    per_epoch = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in per_epoch] == [0, 1, 2, 3]
    for i, row in enumerate(per_epoch, start=1):
        short = fit_quietly(clone(clf).set_params(max_iter=i), X, Y)
        assert row["accuracy"] == short.score(X, Y)


def test_callbacks_reach_fnn_inside_a_pipeline(capsys):
    pytest.importorskip("rich")
    # ProgressBar propagates from the pipeline; ScoringMonitor, which does not,
    # sits on the step it watches, and its rows hang below the pipeline's task.
    monitor = ScoringMonitor(scoring="accuracy")
    network = FNNClassifier(hidden_layer_sizes=(12,), max_iter=3).set_callbacks(monitor)
    pipe = make_pipeline(StandardScaler(), network).set_callbacks(ProgressBar())
    fit_quietly(pipe, X, Y)
    assert "Pipeline - fit" in capsys.readouterr().out
    epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(epochs) == 3 and all(row["estimator_name"] == "FNNClassifier" for row in epochs)
    assert {len(row["task_id_path"]) for row in epochs} == {3}
    fitted = pipe.named_steps["fnnclassifier"]
    assert epochs[-1]["accuracy"] == fitted.score(StandardScaler().fit_transform(X), Y)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_callbacks_reach_every_fit_of_a_grid_search(n_jobs, capsys):
    pytest.importorskip("rich")
    monitor = ScoringMonitor(scoring="accuracy")
    network = FNNClassifier(max_iter=3, random_state=0).set_callbacks(monitor)
    search = GridSearchCV(network, {"hidden_layer_sizes": [(8,), (12,)]}, cv=2, n_jobs=n_jobs)
    fit_quietly(search.set_callbacks(ProgressBar(max_propagation_depth=None)), X, Y)
    epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    # 2 candidates x 2 folds, and the refit: 5 fits of 3 epochs, in the workers too.
    assert len(epochs) == 5 * 3
    assert len({row["task_id_path"][:-1] for row in epochs}) == 5
    assert len(re.findall(r"FNNClassifier - fit", capsys.readouterr().out)) >= 5


def test_a_failed_fit_tears_its_callbacks_down_and_keeps_the_model():
    recorder = Recorder()
    clf = fit_quietly(FNNClassifier(hidden_layer_sizes=(12,), max_iter=2, random_state=0), X, Y)
    before = clf._params.copy()
    clf.set_callbacks(recorder)
    with pytest.raises(ValueError):
        clf.fit(X, np.full(len(X), np.nan))
    assert [c[0] for c in recorder.calls] == ["setup", "teardown"]
    np.testing.assert_array_equal(clf._params, before)
    assert not hasattr(clf, "_callback_fit_ctx")


def test_callbacks_and_verbose_lines_both_follow_every_epoch(capsys):
    recorder = Recorder(stop_after=2)
    clf = FNNClassifier(hidden_layer_sizes=(12,), max_iter=5, verbose=2, random_state=0)
    clf.set_callbacks(recorder).fit(X, Y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"Iteration {e}, loss = {clf.loss_curve_[e - 1]:.8f}" for e in (1, 2)]
    assert len(recorder.fitted("end", "epoch")) == clf.n_iter_ == 2


def test_set_callbacks_follows_scikit_learns_protocol():
    clf = FNNRegressor()
    assert clf.set_callbacks(Recorder()) is clf and len(clf._skl_callbacks) == 1
    assert clone(clf)._skl_callbacks == clf._skl_callbacks
    fitted = fit_quietly(clone(clf).set_params(max_iter=2), X, Y_REG)
    restored = pickle.loads(pickle.dumps(fitted))
    assert isinstance(restored._skl_callbacks[0], Recorder)
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    with pytest.raises(TypeError, match="FitCallback protocol"):
        clf.set_callbacks(object())
    clf.set_callbacks()
    assert not hasattr(clf, "_skl_callbacks")


OLD_SKLEARN = """
import sys
sys.modules["sklearn.callback"] = None  # as on scikit-learn < 1.9
import numpy as np
from fnn import FNNClassifier
X = np.random.default_rng(0).normal(size=(40, 3))
clf = FNNClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, np.arange(40) % 2)
try:
    clf.set_callbacks(object())
except ImportError as error:
    print(clf.n_iter_, error)
"""


def test_without_sklearn_callback_fnn_works_and_set_callbacks_names_the_version():
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", OLD_SKLEARN],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 set_callbacks needs scikit-learn >= 1.9")
