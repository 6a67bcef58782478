"""`FNNClassifier`: scikit-learn's ``MLPClassifier`` interface, and more."""

from __future__ import annotations

import functools
from types import MethodType

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if

from . import _labels
from ._base import BaseFNN
from ._docs import with_shared_docs
from ._losses import softmax
from ._validation_split import Stratification


def _is_stochastic(estimator) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic solvers, not 'lbfgs'.")
    return True


def _gives_probabilities(estimator) -> bool:
    if estimator.loss != "log_loss":
        raise AttributeError(
            f"probability estimates need loss='log_loss'; loss={estimator.loss!r} only "
            "gives decision_function."
        )
    return True


class _with_log_loss:  # noqa: N801 - a decorator, named as scikit-learn's `available_if`
    """``available_if(_gives_probabilities)``, with the usual case costing one comparison.

    scikit-learn's descriptor formats its error message on every access, also
    when the method exists: a one-row `predict_proba` pays for it each call.
    Under log loss this one binds the method itself; every other case (class
    access, other losses and their AttributeError) is scikit-learn's own.
    """

    def __init__(self, method):
        self._method = method
        self._available_if = available_if(_gives_probabilities)(method)
        functools.update_wrapper(self, method)

    def __get__(self, estimator, owner=None):
        if estimator is not None and getattr(estimator, "loss", None) == "log_loss":
            return MethodType(self._method, estimator)
        return self._available_if.__get__(estimator, owner)


@with_shared_docs
class FNNClassifier(ClassifierMixin, BaseFNN):
    """Multi-layer perceptron classifier, a drop-in for ``MLPClassifier``.

    Every parameter that scikit-learn's ``MLPClassifier`` has keeps its name
    and default, and ``alpha`` its scaling; the rest add what it lacks:
    dropout, an L1 penalty, RMSprop and AdamW, leaky ReLU, hinge losses, class
    weights, restoring the best weights, a progress bar, an explicit
    validation set and a multi-threaded Rust engine.

    Binary, multi-class and multi-label (indicator ``y``) problems are
    supported, with string or integer labels, dense or sparse CSR input; so
    is a ``y`` of one class, as in ``MLPClassifier``.

    Parameters
    ----------
    %(mlp_parameters)s

    loss : {'log_loss', 'hinge', 'squared_hinge', 'squared_error'}, \
default='log_loss'
        Training loss, computed from the network's outputs (logits).

        - 'log_loss': cross-entropy with a softmax output (multi-class) or
          sigmoid outputs (binary, multi-label). Gives `predict_proba`.
        - 'hinge', 'squared_hinge': the (squared) hinge loss on one output
          for binary problems; Weston-Watkins' multi-class hinge, averaged
          over the classes, otherwise. Binary and multi-class only.
        - 'squared_error': half the squared distance between the outputs
          and the 0/1 (one-hot) targets, as in a lesson comparing it with
          cross-entropy. Binary and multi-class only.

        Only 'log_loss' defines probabilities: under the other losses
        `predict_proba` and `predict_log_proba` do not exist (AttributeError),
        as in ``SGDClassifier``; squared-error outputs are not confined to
        [0, 1], and clipping them would not make them probabilities.

    %(extra_parameters)s

    class_weight : dict, 'balanced' or None, default=None
        Weight of each class in the loss, multiplying ``sample_weight``:
        ``{label: weight}``, or 'balanced' for
        ``n_samples / (n_classes * np.bincount(y))``. Not for multi-label
        targets; 'balanced' is not available in `partial_fit`. The validation
        score for early stopping weighs samples by ``sample_weight`` only, as
        ``SGDClassifier`` does.

    %(run_parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (column indices for multi-label targets).

    %(attributes)s

    See Also
    --------
    FNNRegressor : The same network for regression.
    fnn.save : Save a fitted estimator in the safetensors format.

    Notes
    -----
    Binary problems use one output: decision_function gives its logit, which
    is positive for ``classes_[1]`` (for 'squared_error', the output minus
    0.5). Multi-class problems use one output per class. A single class is
    trained as the positive class of one output; it is always predicted, with
    probability 1.

    %(failure_notes)s

    %(callback_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fnn import FNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier(hidden_layer_sizes=(20,), solver="lbfgs", random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseFNN._parameter_constraints,
        "loss": [StrOptions({"log_loss", "hinge", "squared_hinge", "squared_error"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        loss="log_loss",
        negative_slope=0.01,
        rho=0.99,
        weight_decay=0.01,
        lr_step_size=30,
        lr_gamma=0.1,
        lr_min=0.0,
        l1=0.0,
        dropout=0.0,
        class_weight=None,
        restore_best_weights=True,
        n_jobs=None,
        engine="rust",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            loss=loss,
            negative_slope=negative_slope,
            rho=rho,
            weight_decay=weight_decay,
            lr_step_size=lr_step_size,
            lr_gamma=lr_gamma,
            lr_min=lr_min,
            l1=l1,
            dropout=dropout,
            restore_best_weights=restore_best_weights,
            n_jobs=n_jobs,
            engine=engine,
        )
        self.class_weight = class_weight

    # ------------------------------------------------------------------
    # Training

    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs; sparse input is converted to CSR.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label problems.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; samples of weight 0 are left
            out. None weighs all samples equally.
        eval_set : tuple (X_val, y_val), default=None
            Validation data, evaluated after every epoch
            (``validation_scores_``, ``validation_loss_curve_``) and used for
            early stopping instead of holding out ``validation_fraction``.

        Returns
        -------
        self : FNNClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, eval_set=eval_set)

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label problems.
        classes : array-like of shape (n_classes,), default=None
            Every class that any call will see, e.g. ``np.unique(y_all)``.
            Required on the first call unless ``y`` is an indicator matrix;
            later calls may omit it.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : FNNClassifier
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)

    def _prepare_targets(self, y, *, continuing, incremental, classes, dtype):
        kind = _labels.problem_kind(y)
        multilabel = kind == _labels.MULTILABEL
        if continuing:
            if multilabel != (self._target_kind == _labels.MULTILABEL):
                raise ValueError(
                    "y switches between multi-label and single-label targets; the network "
                    "was trained on the other kind."
                )
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={_labels.plain(classes)} differs from "
                    f"classes_={_labels.plain(self.classes_)} of the earlier calls."
                )
            # `partial_fit` may see any subset of the classes: only a warm
            # `fit` needs the labels' own set.
            if not incremental:
                seen = _labels.classes_of(y, kind)
                if not np.array_equal(seen, self.classes_):
                    # scikit-learn's words, which its tests match; then what to do.
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got "
                        f"{_labels.plain(self.classes_)}, `y` has {_labels.plain(seen)}. "
                        "Fit with warm_start=False to start afresh on these classes."
                    )
            return _labels.encode(y, self.classes_, self._target_kind, dtype)

        if classes is not None and not multilabel:
            all_classes = np.unique(np.asarray(classes))
        elif classes is None and incremental and not multilabel:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        else:
            all_classes = _labels.classes_of(y, kind)
        target_kind = _labels.kind_for(all_classes, multilabel)
        if target_kind == _labels.MULTILABEL and self.loss != "log_loss":
            raise ValueError(
                f"Multi-label targets need loss='log_loss' (independent sigmoid outputs); "
                f"got loss={self.loss!r}."
            )
        if target_kind == _labels.MULTILABEL and self.class_weight is not None:
            raise ValueError("class_weight is not supported for multi-label targets.")
        self.classes_ = all_classes
        self._target_kind = target_kind
        return _labels.encode(y, all_classes, target_kind, dtype)

    def _prepare_eval_targets(self, y):
        y = y.toarray() if sp.issparse(y) else np.asarray(y)
        if self._target_kind != _labels.MULTILABEL and y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        return _labels.encode(y, self.classes_, self._target_kind, np.float64)

    def _loss_and_output(self):
        if self.loss != "log_loss":
            return self.loss, "identity"
        return "log_loss", "softmax" if self._target_kind == _labels.MULTICLASS else "sigmoid"

    def _class_weight_factors(self, y, incremental):
        if self.class_weight is None:
            return None
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not available in partial_fit, which sees one "
                "batch at a time; pass a dict of class weights instead."
            )
        per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return per_class[_labels.class_indices(y, self.classes_)]

    def _stratification(self, y):
        if self._target_kind == _labels.MULTILABEL:
            return None
        # scikit-learn stratifies on the binarized targets, so its message
        # names a binary problem's classes 'False' and 'True'.
        names = ["False", "True"] if self._target_kind == _labels.BINARY else None
        return Stratification(_labels.class_indices(y, self.classes_), self.classes_, names)

    # ------------------------------------------------------------------
    # Prediction

    def decision_function(self, X):
        """Return the network's outputs (logits) for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            One score per sample for binary (and one-class) problems, positive
            for ``classes_[-1]``; one column per class (or label) otherwise.
        """
        logits = self._outputs(X, finished=False)  # checks that the model is fitted
        if self._target_kind not in (_labels.BINARY, _labels.ONE_CLASS):
            return logits
        scores = logits[:, 0]
        # Squared error aims at 0/1 targets, so its decision threshold is 0.5.
        return scores - 0.5 if self._config.loss == "squared_error" else scores

    def predict(self, X):
        """Predict class labels (or label indicators) for ``X``.

        Under ``loss='log_loss'`` the prediction is read off `predict_proba`:
        the class of the largest probability (the first of equal ones), or for
        multi-label problems every label whose probability exceeds 0.5, so the
        two agree also where probabilities round to the same number.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; for multi-label problems a 0/1 matrix.
        """
        if self.__sklearn_is_fitted__() and self._config.output != "identity":
            probabilities = self._outputs(X, finished=True)
            if self._target_kind == _labels.MULTILABEL:
                return (probabilities > 0.5).astype(np.int64)
            return self.classes_[probabilities.argmax(axis=1)]
        scores = self.decision_function(X)
        if self._target_kind == _labels.ONE_CLASS:
            return self.classes_[np.zeros(len(scores), dtype=np.intp)]
        if self._target_kind == _labels.BINARY:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[scores.argmax(axis=1)]

    def _finish_name(self):
        if self._config.output != "identity" and self._target_kind == _labels.ONE_CLASS:
            return "certain"
        if self._config.output == "sigmoid" and self._target_kind == _labels.BINARY:
            return "binary"
        return "output"

    def _finish(self, logits, predictor):
        # The probabilities, from the logits of a model that gives them.
        if predictor is not None:
            return predictor.finish(logits)
        if self._target_kind == _labels.ONE_CLASS:
            return np.ones((len(logits), 1), dtype=logits.dtype)  # the only class is certain
        if self._config.output == "softmax":
            # scipy.special.softmax's arithmetic, bit for bit, without its
            # array-API dispatch (BENCHMARKS.md, "Measurements behind the
            # code's constants").
            return softmax(logits)
        if self._target_kind == _labels.BINARY:
            # Both columns straight from the logit: no 1 - p cancellation.
            return np.column_stack([expit(-logits[:, 0]), expit(logits[:, 0])])
        return expit(logits)

    def _probabilities(self, X):
        # Unfitted, `_outputs` raises NotFittedError (cheaper than check_is_fitted).
        if self.__sklearn_is_fitted__() and self._config.output == "identity":
            raise AttributeError(
                f"This model was trained with loss={self._config.loss!r}, which gives no "
                "probabilities; refit with loss='log_loss'."
            )
        return self._outputs(X, finished=True)

    def _exact_log_probabilities(self, logits):
        if self._target_kind == _labels.ONE_CLASS:
            return np.zeros((len(logits), 1), dtype=logits.dtype)
        if self._config.output == "softmax":
            return log_softmax(logits, axis=1)
        if self._target_kind == _labels.BINARY:
            return np.column_stack([log_expit(-logits[:, 0]), log_expit(logits[:, 0])])
        return log_expit(logits)

    @_with_log_loss
    def predict_proba(self, X):
        """Class probabilities for ``X`` (``loss='log_loss'`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1 except
            for multi-label problems, where each column is its label's own
            probability. A one-class model gives a column of ones.
        """
        return self._probabilities(X)

    @_with_log_loss
    def predict_log_proba(self, X):
        """Log of the class probabilities (``loss='log_loss'`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))`` wherever the probability is positive, so
            the two agree, also on their largest entry when probabilities
            saturate at 1. Where a probability underflows to 0, the exact
            log-softmax (or log-sigmoid) of the logits: finite, and below the
            log of any positive probability.
        """
        probabilities = self._probabilities(X)
        positive = probabilities > 0
        if positive.all():
            return np.log(probabilities)
        # The same logits again (prediction is deterministic), only in this rare case.
        logits = self._outputs(X, finished=False)
        return np.where(
            positive,
            np.log(np.where(positive, probabilities, 1)),
            self._exact_log_probabilities(logits),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
