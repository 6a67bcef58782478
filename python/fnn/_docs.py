"""The parts of the estimators' docstrings that both share.

`FNNClassifier` and `FNNRegressor` take the same training parameters and learn
the same attributes; writing them once keeps the two docstrings from drifting
apart. `with_shared_docs` puts them where a class docstring has a marker line,
so each docstring lists the parameters in its signature's order.
"""

from __future__ import annotations

MLP_PARAMETERS = """\
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Width of each hidden layer. An empty tuple gives a network without
        hidden layers (a linear model).

    activation : {'relu', 'identity', 'logistic', 'sigmoid', 'tanh', \
'leaky_relu'} or list of str, default='relu'
        Activation of the hidden layers; a list gives one per hidden layer.
        'sigmoid' is another name for 'logistic'; 'leaky_relu' is
        ``max(z, negative_slope * z)``.

    solver : {'adam', 'sgd', 'rmsprop', 'adamw', 'lbfgs'}, default='adam'
        The optimizer.

        - 'sgd': stochastic gradient descent with ``momentum`` (Nesterov's
          when ``nesterovs_momentum``).
        - 'adam': Adam with ``beta_1``, ``beta_2`` and ``epsilon``.
        - 'adamw': Adam with decoupled ``weight_decay`` of the weights
          (biases are not decayed).
        - 'rmsprop': RMSprop with decay ``rho`` and ``epsilon``, without
          momentum.
        - 'lbfgs': SciPy's full-batch L-BFGS-B, often best on small data
          sets. It ignores the minibatch, learning-rate and early-stopping
          settings and ``eval_set``, cannot use dropout, and offers no
          `partial_fit`. SciPy keeps its iterate in float64 while the loss and
          gradient are computed in the working dtype.

    alpha : float, default=1e-4
        Strength of the L2 penalty ``alpha / 2 * sum(W ** 2)`` on the weights
        (not the biases). Like scikit-learn's ``MLPClassifier``, it is divided
        by the total sample weight of each minibatch, so a tuned value
        carries over.

    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' means ``min(200, n_samples)``. A larger value
        is cut to the number of training samples, with a warning.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'step', 'cosine'}, \
default='constant'
        Learning-rate schedule, per epoch and for every stochastic solver
        (``MLPClassifier`` applies it to 'sgd' only).

        - 'constant': ``learning_rate_init``.
        - 'invscaling': ``learning_rate_init / (t_ + 1) ** power_t``.
        - 'adaptive': ``learning_rate_init`` while the stopping criterion
          improves; when it has not for ``n_iter_no_change`` epochs, the rate
          is divided by 5 instead of stopping, until it would fall below 1e-6.
        - 'step': multiplied by ``lr_gamma`` every ``lr_step_size`` epochs.
        - 'cosine': cosine annealing from ``learning_rate_init`` to ``lr_min``
          over ``max_iter`` epochs.

    learning_rate_init : float, default=1e-3
        The initial (base) learning rate.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    max_iter : int, default=200
        Most epochs (passes over the training data) in one `fit`; for
        'lbfgs', most iterations.

    shuffle : bool, default=True
        Visit the samples in a new random order every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, dropout and the validation
        split. An int gives the same model on every fit and with either
        engine; None or a RandomState instance draws a seed at the start of
        every fresh fit.

    tol : float, default=1e-4
        Least improvement of the training loss (or validation score) that
        counts in the stopping rule; 'lbfgs' uses it as SciPy's ``gtol``.

    verbose : bool or int, default=False
        0 or False: silent. 1 or True: a tqdm progress bar over the epochs
        showing the loss and validation score (`partial_fit` prints lines
        instead). 2 or more: scikit-learn's lines, ``Iteration N, loss = ...``
        per epoch (L-BFGS iteration), and ``Validation score: ...`` after it
        when there is validation data.

    warm_start : bool, default=False
        When True, `fit` continues from the previous fit's weights and
        optimizer state instead of starting afresh.

    momentum : float, default=0.9
        Momentum of 'sgd'.

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with 'sgd'.

    early_stopping : bool, default=False
        Stop when the validation score (accuracy for classifiers, R^2 for
        regressors) has not improved by ``tol`` for ``n_iter_no_change``
        epochs. The validation data is ``eval_set`` when given to `fit`, else
        a ``validation_fraction`` share of the training data (stratified for
        single-label classification). Without it, training stops when the
        training loss stops improving by the same rule.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.

    beta_1 : float, default=0.9
        Decay of Adam's first-moment estimate.

    beta_2 : float, default=0.999
        Decay of Adam's second-moment estimate.

    epsilon : float, default=1e-8
        Added to the denominator of Adam and RMSprop.

    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement by ``tol`` before training stops (or the
        'adaptive' schedule lowers the rate).

    max_fun : int, default=15000
        Most objective evaluations of 'lbfgs'."""

EXTRA_PARAMETERS = """\
    negative_slope : float, default=0.01
        Slope of 'leaky_relu' for negative inputs.

    rho : float, default=0.99
        Decay of RMSprop's running mean of squared gradients.

    weight_decay : float, default=0.01
        Decoupled weight decay of 'adamw' (applies besides ``alpha``).

    lr_step_size : int, default=30
        Epochs between learning-rate drops of the 'step' schedule.

    lr_gamma : float, default=0.1
        Factor of each learning-rate drop of the 'step' schedule.

    lr_min : float, default=0.0
        Final learning rate of the 'cosine' schedule.

    l1 : float, default=0.0
        Strength of the L1 penalty ``l1 * sum(|W|)`` on the weights, scaled
        like ``alpha``.

    dropout : float or array-like of float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout, so prediction needs no rescaling); a list gives one rate per
        hidden layer. Rates are in [0, 1)."""

RUN_PARAMETERS = """\
    restore_best_weights : bool, default=True
        With early stopping, end with the weights of the epoch with the best
        validation score of this fit (as ``MLPClassifier`` always does)
        rather than those of the last epoch.

    n_jobs : int, default=None
        Threads of the Rust engine; -1 means all processors, -2 all but one,
        and so on. None means: a ``threadpoolctl`` limit if one is in force,
        else ``RAYON_NUM_THREADS``, else ``OMP_NUM_THREADS`` (set by joblib,
        dask and Ray in their workers, so parallel searches do not
        oversubscribe; both as they were when fnn was imported), else all
        cores. Small batches run on one thread whatever the setting, and the
        result is the same for any thread count.

    engine : {'rust', 'numpy'}, default='rust'
        'rust' trains in the compiled, multi-threaded core; 'numpy' in
        `fnn.reference`, the readable NumPy twin. With the same
        ``random_state`` both give the same model up to rounding."""

ATTRIBUTES = """\
    loss_ : float
        Training objective of the last epoch: the mean over its minibatches,
        weighted by their total sample weight, of the sample-weighted mean
        loss plus the penalties scaled by the minibatch's weight (so, as in
        ``MLPClassifier``, the penalty enters once per minibatch). It equals
        ``MLPClassifier``'s ``loss_`` for 'log_loss' and single-output
        'squared_error'; squared error is summed over outputs, so with k
        outputs it is k times ``MLPRegressor``'s (which also averages over
        outputs; the gradients agree).

    best_loss_ : float or None
        Lowest training objective of the last fit; None with early stopping.

    loss_curve_ : list of float
        Training objective of every epoch ('lbfgs': every iteration). Warm
        starts and `partial_fit` append to it.

    validation_loss_curve_ : list of float or None
        Validation loss (without penalty) of every epoch, when the last fit
        had validation data (early stopping or ``eval_set``); else None.

    validation_scores_ : list of float or None
        Validation score of every epoch, when the last fit had validation
        data; else None.

    best_validation_score_ : float or None
        Best validation score of the last fit, with early stopping; else
        None.

    t_ : int
        Number of training samples seen by the optimizer, over all fits.

    coefs_ : list of ndarray
        ``coefs_[i]`` of shape ``(n_in, n_out)``: the weights of layer ``i``.
        Views of one flat parameter buffer; assigning writes into it.

    intercepts_ : list of ndarray
        ``intercepts_[i]`` of shape ``(n_out,)``: the biases of layer ``i``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    n_iter_ : int
        Epochs run by the last call ('lbfgs': iterations).

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs of the network.

    out_activation_ : str
        Output function: 'softmax', 'logistic', 'identity', or 'exp' for
        ``loss='poisson'``."""

FAILURE_NOTES = """\
    When training fails, the estimator's state is defined:

    - Divergence. If the training loss stops being finite, `fit` and
      `partial_fit` raise ValueError (scikit-learn's "Solver produced
      non-finite parameter weights", then "training diverged") and leave the
      estimator as it was before the call: unfitted after a first fit, else
      the previous model. Weights are never NaN. With ``early_stopping``, a
      stochastic fit instead stops there, keeps the model early stopping
      would keep (the best validation score's, or the last finite epoch's
      without ``restore_best_weights``), records the diverged epoch as NaN
      in ``loss_curve_`` and ``validation_scores_``, and warns with a
      ConvergenceWarning: one diverging candidate of a search then scores
      badly instead of failing the search. If the loss stays finite
      but ends over 100 times that of a network whose outputs are all zero
      (e.g. Adam with a huge learning rate), the fit warns with a
      ConvergenceWarning ("training diverged") and keeps the finite weights
      it reached.
    - Ctrl-C. Training checks for SIGINT every 0.1 s and stops after the
      current minibatch (L-BFGS: objective evaluation); the estimator keeps
      the weights reached, with the epochs (or L-BFGS
      iterations) completed in ``n_iter_`` and ``loss_curve_``, and
      `KeyboardInterrupt` is raised again. It can predict, be saved, or
      continue with `partial_fit` or ``warm_start``. An interrupt before
      training starts, or before the first L-BFGS iteration ends, leaves
      the estimator as it was.
    - Any other error leaves the estimator as it was before the call."""

CALLBACK_NOTES = """\
    With scikit-learn >= 1.9, ``set_callbacks`` registers scikit-learn's
    callbacks (``sklearn.callback``): a fit is one task with a subtask per
    epoch (per L-BFGS iteration), and the ``fitted_estimator`` a callback
    gets at the end of epoch i is the model that ``max_iter=i`` trains
    (except under ``learning_rate='cosine'``, whose schedule spans
    ``max_iter``). A callback's ``on_fit_task_end`` returning True stops the
    fit there."""

_MARKERS = {
    "    %(mlp_parameters)s": MLP_PARAMETERS,
    "    %(extra_parameters)s": EXTRA_PARAMETERS,
    "    %(run_parameters)s": RUN_PARAMETERS,
    "    %(attributes)s": ATTRIBUTES,
    "    %(failure_notes)s": FAILURE_NOTES,
    "    %(callback_notes)s": CALLBACK_NOTES,
}


def with_shared_docs(cls):
    """Put the shared sections into the docstring of ``cls`` (a class decorator).

    The sections go where the docstring has the marker lines
    ``%(mlp_parameters)s`` (``MLPClassifier``'s parameters, in its order),
    ``%(extra_parameters)s``, ``%(run_parameters)s``, ``%(attributes)s``,
    ``%(failure_notes)s`` and ``%(callback_notes)s``; the estimators keep their
    signatures in that order.
    """
    doc = cls.__doc__
    for marker, text in _MARKERS.items():
        doc = doc.replace(marker, text)
    cls.__doc__ = doc
    return cls
