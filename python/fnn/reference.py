"""The reference engine: a multi-layer perceptron in plain NumPy.

This module is meant to be read. Every formula in docs/engine-spec.md appears
here once, written out with ordinary NumPy, and the Rust engine is checked
against it. The network is a list of weight matrices ``coefs[l]`` of shape
``(d_l, d_{l+1})`` and a list of bias vectors ``intercepts[l]``; training works
on one flat buffer of which those are views (`fnn._layout`).

Reading order: the network (activations, forward pass), learning from a
batch (loss and backward pass), optimizers, learning-rate schedules, epochs
with validation and stopping, `NumpyEngine`, which strings them together,
and last the random numbers (initial weights, shuffling, dropout). Two small
modules hold what other parts of fnn share: the output functions and losses
(`fnn._losses`) and the counter-based random generator (`fnn._rng`).
"""

from __future__ import annotations

import math

import numpy as np

from ._config import EpochLog, TrainConfig, TrainState
from ._errors import DivergedError
from ._full_batch import full_batch_objective
from ._layout import n_params, unpack
from ._losses import per_sample_loss, resolve_output, sigmoid, softmax
from ._rng import DROPOUT, INIT, SHUFFLE, bits, key, uniform

# ---------------------------------------------------------------------------
# The network (spec section 3): activations and the forward pass
# ---------------------------------------------------------------------------


ACTIVATIONS = {
    "identity": lambda Z, slope: Z.copy(),
    "sigmoid": lambda Z, slope: sigmoid(Z),
    "tanh": lambda Z, slope: np.tanh(Z),
    "relu": lambda Z, slope: np.maximum(Z, 0),
    "leaky_relu": lambda Z, slope: np.where(Z > 0, Z, slope * Z),
    "softmax": lambda Z, slope: softmax(Z),
    # The Poisson mean under a log link (an output function only).
    "exp": lambda Z, slope: np.exp(Z),
}

# Each derivative is written in terms of the output a = f(z), so the backward
# pass only needs the activations the forward pass already kept.
DERIVATIVES = {
    "identity": lambda A, slope: np.ones_like(A),
    "sigmoid": lambda A, slope: A * (1 - A),
    "tanh": lambda A, slope: 1 - A * A,
    "relu": lambda A, slope: (A > 0).astype(A.dtype),
    "leaky_relu": lambda A, slope: np.where(A > 0, 1.0, slope).astype(A.dtype),
}


def activate(name, Z, negative_slope=0.01):
    """Apply the activation ``name`` elementwise (softmax: along the last axis).

    Parameters
    ----------
    name : {'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'softmax'}
        The function.
    Z : ndarray
        Pre-activations.
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs.

    Returns
    -------
    ndarray
        A new array of ``Z``'s shape and dtype.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name](np.asarray(Z), negative_slope)


def activation_derivative(name, A, negative_slope=0.01):
    """Return the derivative ``f'(z)`` of a hidden activation, from its output ``A = f(Z)``.

    Parameters
    ----------
    name : {'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu'}
        The function.
    A : ndarray
        Activations (outputs of `activate`).
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs.

    Returns
    -------
    ndarray
        A new array of ``A``'s shape and dtype.
    """
    if name not in DERIVATIVES:
        raise ValueError(f"unknown activation {name!r}; expected one of {tuple(DERIVATIVES)}")
    return DERIVATIVES[name](np.asarray(A), negative_slope)


def _hidden_activations(activation, n_hidden):
    if isinstance(activation, str):
        return [activation] * n_hidden
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(f"need one activation per hidden layer ({n_hidden}), got {len(names)}")
    return names


def _forward_pass(coefs, intercepts, X, activations, negative_slope, masks=None):
    """Run the network and keep what backpropagation needs.

    Returns ``(inputs, outputs, logits)``: ``inputs[l]`` is what layer ``l``
    multiplies (after dropout), ``outputs[h]`` hidden layer ``h``'s activation
    before dropout (for the derivative), ``logits`` the output layer's
    pre-activation.
    """
    inputs, outputs = [X], []
    A = X
    for h, name in enumerate(activations):
        A = activate(name, A @ coefs[h] + intercepts[h], negative_slope)
        outputs.append(A)
        if masks is not None and masks[h] is not None:
            A = A * masks[h]
        inputs.append(A)
    logits = A @ coefs[-1] + intercepts[-1]
    return inputs, outputs, logits


def forward(coefs, intercepts, X, *, activation, output=None, negative_slope=0.01):
    """Predictions of the network (no dropout).

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Weights ``(d_l, d_{l+1})`` and biases ``(d_{l+1},)`` per layer.
    X : ndarray of shape (n, d0)
        Inputs.
    activation : str or sequence of str
        Hidden activation: one name for every hidden layer, or one per layer.
    output : {'identity', 'sigmoid', 'softmax', 'exp'} or None, default=None
        Output function; None means 'identity' (the logits).
    negative_slope : float, default=0.01
        Slope of ``leaky_relu``.

    Returns
    -------
    ndarray of shape (n, dL)
    """
    names = _hidden_activations(activation, len(coefs) - 1)
    X = np.asarray(X, dtype=coefs[0].dtype)
    _, _, logits = _forward_pass(coefs, intercepts, X, names, negative_slope)
    return activate(output or "identity", logits)


# ---------------------------------------------------------------------------
# Learning from one batch (spec sections 4 and 5): the objective and its
# gradient by backpropagation. The losses themselves are in fnn._losses.
# ---------------------------------------------------------------------------


def _sizes(coefs):
    """Return the layer sizes ``(d0, ..., dL)`` of a list of weight matrices."""
    return [coefs[0].shape[0]] + [W.shape[1] for W in coefs]


def _weights(sample_weight, n, dtype):
    if sample_weight is None:
        return np.ones(n, dtype=dtype)
    return np.asarray(sample_weight, dtype=dtype)


def _backprop(
    coefs,
    intercepts,
    X,
    Y,
    w,
    masks,
    *,
    names,
    loss,
    output,
    alpha,
    l1,
    negative_slope,
    huber_delta,
):
    """Return the batch objective and its flat gradient, with dropout ``masks`` (None: none).

    ``w`` are the sample weights (never None) and ``names`` the hidden
    activations. The gradient is one flat buffer laid out as the parameters
    (spec section 1), so an optimizer step takes it as it is.
    """
    inputs, outputs, logits = _forward_pass(coefs, intercepts, X, names, negative_slope, masks)
    losses, dZ = per_sample_loss(loss, output, logits, Y, huber_delta)
    S = w.sum()
    if not S > 0:
        raise ValueError("a batch's sample weights must sum to a positive number")

    # Penalties touch weights only; dividing by S matches scikit-learn's scaling.
    penalty = 0.0
    for W in coefs:
        penalty += 0.5 * alpha * float((W * W).sum()) + l1 * float(np.abs(W).sum())
    value = (float(w @ losses) + penalty) / float(S)

    grad = np.empty(n_params(_sizes(coefs)), dtype=coefs[0].dtype)
    coef_grads, intercept_grads = unpack(_sizes(coefs), grad)  # views: filling them fills grad
    delta = (w / S)[:, None] * dZ
    for layer in reversed(range(len(coefs))):
        W = coefs[layer]
        coef_grads[layer][...] = inputs[layer].T @ delta + (alpha * W + l1 * np.sign(W)) / S
        intercept_grads[layer][...] = delta.sum(axis=0)
        if layer > 0:
            h = layer - 1
            delta = (delta @ W.T) * activation_derivative(names[h], outputs[h], negative_slope)
            if masks is not None and masks[h] is not None:
                delta *= masks[h]  # dropped units pass no gradient back
    return value, grad


def loss_and_gradients(
    coefs,
    intercepts,
    X,
    Y,
    *,
    activation,
    loss,
    output=None,
    alpha=0.0,
    l1=0.0,
    sample_weight=None,
    negative_slope=0.01,
    huber_delta=1.0,
):
    """Return the batch objective and its gradient by backpropagation (no dropout).

    ``L = (sum_i w_i l_i + alpha/2 sum ||W||^2 + l1 sum |W|) / sum_i w_i``.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Weights and biases per layer.
    X : ndarray of shape (n, d0)
        Inputs.
    Y : ndarray of shape (n, dL)
        Targets (one-hot, indicators or values).
    activation : str or sequence of str
        Hidden activation(s), as in `forward`.
    loss : {'squared_error', 'huber', 'log_loss', 'hinge', 'squared_hinge', 'poisson'}
        The per-sample loss, computed from the logits.
    output : {'identity', 'sigmoid', 'softmax', 'exp'} or None, default=None
        None picks softmax for log_loss with several outputs, sigmoid for
        log_loss with one, exp for poisson, identity otherwise.
    alpha, l1 : float, default=0.0
        L2 and L1 penalty strengths (weights only).
    sample_weight : ndarray of shape (n,) or None, default=None
        Per-sample weights; None means all ones.
    negative_slope : float, default=0.01
        Slope of ``leaky_relu``.
    huber_delta : float, default=1.0
        Where the Huber loss turns from quadratic to linear.

    Returns
    -------
    loss : float
        The objective ``L``.
    coef_grads, intercept_grads : list of ndarray
        ``dL/dW_l`` and ``dL/db_l`` in the parameters' dtype: views of one
        new flat buffer.
    """
    dtype = coefs[0].dtype
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    if Y.ndim == 1:
        Y = Y[:, None]
    w = _weights(sample_weight, X.shape[0], dtype)
    names = _hidden_activations(activation, len(coefs) - 1)
    output = resolve_output(loss, output, Y.shape[1])
    value, grad = _backprop(
        coefs, intercepts, X, Y, w, None, names=names, loss=loss, output=output, alpha=alpha,
        l1=l1, negative_slope=negative_slope, huber_delta=huber_delta,
    )  # fmt: skip
    return (value, *unpack(_sizes(coefs), grad))


def _objective_terms(config, **overrides):
    """Return the keyword arguments `_backprop` takes from ``config``."""
    terms = dict(
        names=list(config.activations), loss=config.loss, output=config.output,
        alpha=config.alpha, l1=config.l1, negative_slope=config.negative_slope,
        huber_delta=config.huber_delta,
    )  # fmt: skip
    return {**terms, **overrides}


# ---------------------------------------------------------------------------
# Optimizers (spec section 6): one step each, updating arrays in place.
# ---------------------------------------------------------------------------


def sgd_step(params, grad, buf, *, lr, momentum=0.0, nesterov=False):
    """One step of SGD with optional (Nesterov) momentum, in place.

    Parameters
    ----------
    params, grad, buf : ndarray
        Same shape; ``params`` and the momentum buffer ``buf`` are updated.
    lr : float
        Learning rate.
    momentum : float, default=0.0
        Momentum factor; 0 leaves ``buf`` untouched.
    nesterov : bool, default=False
        Look ahead along the momentum direction.
    """
    if momentum > 0:
        buf *= momentum
        buf += grad
        direction = grad + momentum * buf if nesterov else buf
    else:
        direction = grad
    params -= lr * direction


def rmsprop_step(
    params, grad, sq, avg, buf, *, lr, rho=0.99, eps=1e-8, momentum=0.0, centered=False
):
    """One RMSprop step, in place.

    Parameters
    ----------
    params, grad : ndarray
        Same shape; ``params`` is updated.
    sq, avg, buf : ndarray
        Running mean of ``g**2``, running mean of ``g`` (only when
        ``centered``) and the momentum buffer (only when ``momentum > 0``).
    lr : float
        Learning rate.
    rho : float, default=0.99
        Decay of the running means.
    eps : float, default=1e-8
        Added to the denominator.
    momentum : float, default=0.0
        Momentum factor.
    centered : bool, default=False
        Divide by an estimate of the gradient's standard deviation instead of
        its root mean square.
    """
    sq *= rho
    sq += (1 - rho) * (grad * grad)
    if centered:
        avg *= rho
        avg += (1 - rho) * grad
        # Rounding can push the variance estimate a hair below zero: clamp it.
        denominator = np.sqrt(np.maximum(sq - avg * avg, 0.0)) + eps
    else:
        denominator = np.sqrt(sq) + eps
    if momentum > 0:
        buf *= momentum
        buf += grad / denominator
        params -= lr * buf
    else:
        params -= lr * (grad / denominator)


def adam_step(
    params,
    grad,
    m,
    v,
    vmax,
    *,
    lr,
    step,
    beta_1=0.9,
    beta_2=0.999,
    eps=1e-8,
    amsgrad=False,
    weight_decay=0.0,
):
    """One Adam (or AdamW) step, in place.

    Parameters
    ----------
    params, grad : ndarray
        Same shape; ``params`` is updated.
    m, v, vmax : ndarray
        First and second moment estimates and the running maximum of ``v``
        (used only with ``amsgrad``).
    lr : float
        Learning rate.
    step : int
        ``t``, the 1-based number of this step (for bias correction).
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay of the moment estimates.
    eps : float, default=1e-8
        Added to the denominator.
    amsgrad : bool, default=False
        Use the largest second moment seen so far.
    weight_decay : float, default=0.0
        Decoupled (AdamW) decay ``params -= lr * weight_decay * params``,
        applied to all of ``params`` before the Adam update.
    """
    if weight_decay > 0:
        params -= (lr * weight_decay) * params
    m *= beta_1
    m += (1 - beta_1) * grad
    v *= beta_2
    v += (1 - beta_2) * (grad * grad)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v_hat = vmax
    else:
        v_hat = v
    # Both moments start at zero; these factors undo that bias early on.
    step_size = lr / (1 - beta_1**step)
    # A reciprocal, multiplied: one division per element fewer (spec section 6).
    inv_root_correction = 1 / math.sqrt(1 - beta_2**step)
    params -= step_size * (m / (np.sqrt(v_hat) * inv_root_correction + eps))


def _optimizer_step(config, params, grad, state, lr):
    slots = state.slots  # rows are views: the steps update them in place
    c = config
    if c.solver == "sgd":
        sgd_step(params, grad, slots[0], lr=lr, momentum=c.momentum, nesterov=c.nesterov)
    elif c.solver == "rmsprop":
        options = dict(rho=c.rho, eps=c.epsilon, momentum=c.momentum, centered=c.centered)
        rmsprop_step(params, grad, *slots, lr=lr, **options)
    else:
        if c.solver == "adamw":
            # Decay the weights only, like the L1/L2 penalties; biases are spared.
            for W in unpack(c, params)[0]:
                W -= (lr * c.weight_decay) * W
        options = dict(beta_1=c.beta_1, beta_2=c.beta_2, eps=c.epsilon, amsgrad=c.amsgrad)
        adam_step(params, grad, *slots, lr=lr, step=state.step + 1, **options)


# ---------------------------------------------------------------------------
# Learning-rate schedules (spec section 7)
# ---------------------------------------------------------------------------


def learning_rate(config, state):
    """Return the learning rate of the epoch that ``state`` is about to run.

    Parameters
    ----------
    config : TrainConfig
        The schedule and its settings.
    state : TrainState
        ``lr_base``, ``epoch`` and ``samples_seen`` when the epoch starts.

    Returns
    -------
    float
    """
    base = state.lr_base
    epoch = state.epoch
    if config.schedule in ("constant", "adaptive"):
        return base
    if config.schedule == "invscaling":
        return base / (state.samples_seen + 1) ** config.power_t
    if config.schedule == "step":
        return base * config.gamma ** (epoch // config.step_size)
    if config.schedule == "cosine":
        cosine = 1 + math.cos(math.pi * epoch / config.t_max)
        return config.eta_min + (base - config.eta_min) * cosine / 2
    raise ValueError(f"unknown schedule {config.schedule!r}")


# ---------------------------------------------------------------------------
# Epochs, validation and stopping (spec section 8)
# ---------------------------------------------------------------------------


def _features(X, dtype):
    """Return ``X`` in the working dtype: CSR stays sparse, anything else becomes dense."""
    if _is_sparse(X):
        return X.tocsr().astype(dtype)
    return np.asarray(X, dtype=dtype)


def _is_sparse(X) -> bool:
    # Checked by attribute so that scipy stays an optional import here.
    return hasattr(X, "tocsr") and hasattr(X, "toarray")


def _dense(X):
    """Dense rows: the reference simply densifies sparse input where it is used."""
    return X.toarray() if _is_sparse(X) else X


def _check_inputs(config, dtype, X, Y, sample_weight, validation):
    """Return the training and validation data in the working dtype, weights filled in.

    ``validation`` comes back as ``(X_val, Y_val, w_val)`` or None.
    """
    if config.stopping == "val_score" and validation is None:
        raise ValueError("stopping on the validation score needs validation data")
    X = _features(X, dtype)
    Y = np.asarray(Y, dtype=dtype)
    w = _weights(sample_weight, X.shape[0], dtype)
    if validation is not None:
        X_val, Y_val, w_val = validation
        X_val = _features(X_val, dtype)
        validation = (X_val, np.asarray(Y_val, dtype=dtype), _weights(w_val, X_val.shape[0], dtype))
    return X, Y, w, validation


def _dropout_masks(config, step, n_rows, dtype):
    sizes = config.layer_sizes
    masks = []
    for h, rate in enumerate(config.dropout_rates()):
        if rate > 0:
            masks.append(dropout_mask(config.seed, step, h, n_rows, sizes[h + 1], rate, dtype))
        else:
            masks.append(None)
    return masks


def _run_epoch(config, params, state, X, Y, w, lr):
    """Make one pass over the data (spec section 8, step 1); return the training loss."""
    coefs, intercepts = unpack(config, params)  # views: they follow every update
    terms = _objective_terms(config)
    n = X.shape[0]
    order = shuffle_order(config.seed, state.epoch, n) if config.shuffle else np.arange(n)
    weighted_loss, weight_total = 0.0, 0.0
    for start in range(0, n, config.batch_size):
        rows = order[start : start + config.batch_size]
        masks = _dropout_masks(config, state.step, len(rows), params.dtype)
        batch_loss, grad = _backprop(
            coefs, intercepts, _dense(X[rows]), Y[rows], w[rows], masks, **terms
        )
        _optimizer_step(config, params, grad, state, lr)
        state.step += 1
        state.samples_seen += len(rows)
        # Weighting by the batch's weight makes the epoch loss a per-sample mean.
        batch_weight = float(w[rows].sum())
        weighted_loss += batch_loss * batch_weight
        weight_total += batch_weight
    return weighted_loss / weight_total


def _predicts_by_argmax(config):
    k = config.layer_sizes[-1]
    return k > 1 and (
        config.output == "softmax" or config.loss in ("hinge", "squared_hinge", "squared_error")
    )


def _accuracy(config, logits, Y, w):
    if _predicts_by_argmax(config):
        correct = np.argmax(logits, axis=1) == np.argmax(Y, axis=1)
    else:
        # Regression-style losses aim at 0/1 targets; the others at a logit sign.
        threshold = 0.5 if config.loss in ("squared_error", "huber") else 0.0
        correct = np.all((logits > threshold) == (Y > 0.5), axis=1)
    return float(w @ correct.astype(w.dtype) / w.sum())


def _r2(logits, Y, w):
    mean = (w @ Y) / w.sum()
    residual = w @ ((Y - logits) ** 2)
    total = w @ ((Y - mean) ** 2)
    scores = []
    for res, tot in zip(residual, total):
        if tot != 0:
            scores.append(1 - res / tot)
        else:
            # A constant target: scikit-learn's convention.
            scores.append(1.0 if res == 0 else 0.0)
    return float(np.mean(scores))


def _evaluate(config, params, validation):
    """Return the validation loss (no penalty) and score; NaN for both without data."""
    if validation is None:
        return math.nan, math.nan
    X, Y, w = validation
    coefs, intercepts = unpack(config, params)
    names = list(config.activations)
    _, _, logits = _forward_pass(coefs, intercepts, _dense(X), names, config.negative_slope)
    losses, _ = per_sample_loss(config.loss, config.output, logits, Y, config.huber_delta)
    val_loss = float(w @ losses / w.sum())
    if config.score == "accuracy":
        return val_loss, _accuracy(config, logits, Y, w)
    # R² of the predictions: the logits, or e^z under poisson's log link.
    predictions = np.exp(logits) if config.output == "exp" else logits
    return val_loss, _r2(predictions, Y, w)


def _update_stopping(config, state, loss, score, params, best):
    """scikit-learn's no-improvement rule; returns True when training should stop.

    ``best`` is a one-element list holding this call's best snapshot.
    """
    if config.stopping == "val_score":
        state.no_improve = state.no_improve + 1 if score < state.best_score + config.tol else 0
        if score > state.best_score:
            state.best_score = score
            best[0] = params.copy()
    elif config.stopping == "train_loss":
        state.no_improve = state.no_improve + 1 if loss > state.best_loss - config.tol else 0
    state.best_loss = min(state.best_loss, loss)

    if config.stopping != "none" and state.no_improve > config.n_iter_no_change:
        if config.schedule == "adaptive" and state.lr_base > 1e-6:
            state.lr_base /= 5
            state.no_improve = 0
        else:
            return True
    return False


# ---------------------------------------------------------------------------
# The engine: `NumpyEngine` strings the pieces above into the Engine interface
# ---------------------------------------------------------------------------


def _predict(config, params, X, output):
    X = _dense(_features(X, params.dtype))
    coefs, intercepts = unpack(config, params)
    slope = config.negative_slope
    return forward(
        coefs, intercepts, X, activation=config.activations, output=output, negative_slope=slope
    )


class NumpyEngine:
    """The reference training engine (see `fnn._engine.Engine`).

    Stateless: the parameters and the training state come in with every call
    and are updated in place.
    """

    def init_params(self, config: TrainConfig, dtype) -> np.ndarray:
        """Return a fresh flat parameter buffer (spec section 2)."""
        return init_params(config, dtype)

    def predict(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Return the output-layer activations (after the output function), no dropout."""
        return _predict(config, params, X, config.output)

    def logits(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Return the output-layer pre-activations, no dropout."""
        return _predict(config, params, X, "identity")

    def loss_and_gradients(
        self,
        config: TrainConfig,
        params: np.ndarray,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """Return the full-batch objective and its gradient (see `fnn._engine.Engine`)."""
        coefs, intercepts = unpack(config, params)
        terms = _objective_terms(config, alpha=0.0, l1=0.0)  # the penalty comes once, below

        def data_term(X_rows, Y_rows, w_rows):
            X_rows, Y_rows = np.asarray(X_rows, params.dtype), np.asarray(Y_rows, params.dtype)
            w_rows = np.asarray(w_rows, params.dtype)
            return _backprop(coefs, intercepts, X_rows, Y_rows, w_rows, None, **terms)

        return full_batch_objective(config, params, X, Y, sample_weight, data_term)

    def fit_epochs(
        self,
        config: TrainConfig,
        params: np.ndarray,
        state: TrainState,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        validation=None,
        callback=None,
        log=None,
    ) -> EpochLog:
        """Train ``params`` in place for up to ``config.max_epochs`` epochs.

        Parameters
        ----------
        config : TrainConfig
            What to train.
        params : ndarray of shape (config.n_params,)
            Flat parameters, updated in place; their dtype is the working dtype.
        state : TrainState
            Optimizer slots and counters, updated in place.
        X : ndarray of shape (n, d0)
            Training inputs.
        Y : ndarray of shape (n, dL)
            Training targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Per-sample weights.
        validation : tuple (X_val, Y_val, w_val or None) or None, default=None
            Data for ``val_loss`` and ``val_score``.
        callback : callable or None, default=None
            ``callback(epoch, loss, val_loss, val_score)`` after every epoch,
            with ``epoch`` the number of epochs done so far (``state.epoch``);
            returning True stops training.
        log : EpochLog or None, default=None
            Where finished epochs are appended (a new one when None); it keeps
            the epochs run before an exception.

        Returns
        -------
        EpochLog
            One entry per epoch run.

        Raises
        ------
        ValueError
            "training diverged ..." when an epoch's training loss is not finite.
        """
        X, Y, w, validation = _check_inputs(config, params.dtype, X, Y, sample_weight, validation)
        log = EpochLog() if log is None else log
        best = [None]  # this call's best snapshot, for restore_best

        for _ in range(config.max_epochs):
            lr = learning_rate(config, state)
            # Overflow is reported below as divergence, so NumPy's warnings are noise.
            with np.errstate(over="ignore", invalid="ignore"):
                loss = _run_epoch(config, params, state, X, Y, w, lr)
            if not math.isfinite(loss):
                raise DivergedError(
                    f"training diverged: the loss is not finite at epoch {state.epoch + 1}; "
                    "lower the learning rate or scale the inputs"
                )
            val_loss, val_score = _evaluate(config, params, validation)
            log.loss.append(loss)
            log.val_loss.append(val_loss)
            log.val_score.append(val_score)

            state.epoch += 1
            stop = _update_stopping(config, state, loss, val_score, params, best)
            log.converged = stop
            if callback is not None and callback(state.epoch, loss, val_loss, val_score):
                stop = True
            if stop:
                break

        if config.stopping == "val_score" and config.restore_best and best[0] is not None:
            params[...] = best[0]
        return log


# ---------------------------------------------------------------------------
# Random numbers (spec section 2): every draw comes from fnn._rng's
# counter-based generator, so the Rust engine can reproduce any of them.
# ---------------------------------------------------------------------------


def init_params(config, dtype=np.float64):
    """Glorot-uniform initial parameters, as scikit-learn draws them.

    Parameters
    ----------
    config : TrainConfig
        Supplies ``layer_sizes``, ``activations`` and ``seed``.
    dtype : dtype, default=np.float64
        The working dtype.

    Returns
    -------
    ndarray of shape (config.n_params,)
        Computed in float64, then cast to ``dtype``.
    """
    sizes = config.layer_sizes
    n_layers = len(sizes) - 1
    flat = np.empty(config.n_params, dtype=np.float64)
    coefs, intercepts = unpack(sizes, flat)
    for layer in range(n_layers):
        # The output layer borrows the last hidden activation's scaling.
        act = config.activations[min(layer, n_layers - 2)] if n_layers > 1 else "relu"
        factor = 2.0 if act == "sigmoid" else 6.0
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        bound = math.sqrt(factor / (fan_in + fan_out))
        u = uniform(key(config.seed, INIT, layer, 0), np.arange(fan_in * fan_out))
        coefs[layer][...] = (bound * (2.0 * u - 1.0)).reshape(fan_in, fan_out)
        u = uniform(key(config.seed, INIT, layer, 1), np.arange(fan_out))
        intercepts[layer][...] = bound * (2.0 * u - 1.0)
    return flat.astype(dtype)


def shuffle_order(seed, epoch, n):
    """Return the order in which epoch ``epoch`` visits ``n`` samples.

    A stable argsort of random keys, so ties (astronomically rare) keep
    index order and both engines agree on them.

    Parameters
    ----------
    seed : int
        The run's seed.
    epoch : int
        The global epoch number (``state.epoch`` when the epoch starts).
    n : int
        Number of samples.

    Returns
    -------
    ndarray of int of shape (n,)
        A permutation of ``range(n)``.
    """
    draws = bits(key(seed, SHUFFLE, epoch, 0), np.arange(n, dtype=np.uint64))
    return np.argsort(draws, kind="stable")


def dropout_mask(seed, step, hidden_index, n_rows, n_units, rate, dtype=np.float64):
    """Inverted-dropout mask of one hidden layer at one optimizer step.

    Parameters
    ----------
    seed : int
        The run's seed.
    step : int
        ``state.step`` before the optimizer step (0-based).
    hidden_index : int
        0-based index of the hidden layer.
    n_rows, n_units : int
        Batch rows and the layer's width.
    rate : float
        Drop probability ``p`` in ``[0, 1)``.
    dtype : dtype, default=np.float64
        Dtype of the returned mask.

    Returns
    -------
    ndarray of shape (n_rows, n_units)
        ``1 / (1 - p)`` where the unit is kept, 0 where it is dropped; scaling
        the survivors keeps the expected activation unchanged, so prediction
        needs no correction.
    """
    counters = np.arange(n_rows * n_units, dtype=np.uint64)
    u = uniform(key(seed, DROPOUT, step, hidden_index), counters).reshape(n_rows, n_units)
    keep = (u >= rate).astype(dtype)
    return keep * (1.0 / (1.0 - rate))
