//! Bindings of the single kernels behind `fnn.functional`: forward, loss and
//! gradients, activations, optimizer steps and the random stream.

use numpy::{Element, PyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::convert::{readonly, readwrite, slice, slice_mut, to_py, with_dtype, FeatureViews};
use super::parse::{self, Elementwise, NetSpec};
use crate::float::Float;
use crate::loss::Output;
use crate::network::{Network, Rows};
use crate::objective::PREDICT_ROWS;
use crate::optim::Optimizer;
use crate::parallel::{run_with_threads, threads_for_work, Par};
use crate::rng;

fn rows_of(len: usize, width: usize, what: &str) -> PyResult<usize> {
    if width == 0 || !len.is_multiple_of(width) {
        return Err(PyValueError::new_err(format!(
            "{what} has {len} values, not a multiple of {width}"
        )));
    }
    Ok(len / width)
}

/// Output activations (or logits with `apply_output=False`) of `x`, flat.
#[pyfunction]
#[pyo3(signature = (spec, params, x, apply_output, threads=1))]
pub fn forward<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    params: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    apply_output: bool,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec.extract::<NetSpec>()?;
    let (output, net) = (spec.output()?, spec.build()?);
    with_dtype!(params, "params", T, {
        forward_typed::<T>(py, &net, output, params, x, apply_output, threads)
    })
}

fn forward_typed<'py, T: Float + Element>(
    py: Python<'py>,
    net: &Network,
    output: Output,
    params: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    apply_output: bool,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let p_view = readonly::<T>(params, "params")?;
    let x_view = FeatureViews::<T>::extract(x, "X")?;
    let (p, xs) = (slice(&p_view, "params")?, x_view.features("X")?);
    let rows = xs.rows(net.sizes()[0]);
    let threads = threads_for_work(
        threads,
        rows.min(PREDICT_ROWS).saturating_mul(net.n_params()),
    );
    let output = apply_output.then_some(output);
    let out = py
        .detach(|| {
            run_with_threads(threads, || net.predict(p, &xs, output, Par { threads }))
                .and_then(|r| r)
        })
        .map_err(to_py)?;
    Ok(PyArray1::from_vec(py, out).into_any())
}

/// `(loss, flat gradient)` of the objective of spec section 4 on `(x, y)`.
#[pyfunction]
#[pyo3(signature = (spec, params, x, y, weights, alpha, l1))]
#[allow(clippy::too_many_arguments)]
pub fn loss_and_gradients<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    params: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    weights: Option<Bound<'py, PyAny>>,
    alpha: f64,
    l1: f64,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let net = spec.extract::<NetSpec>()?.build()?;
    with_dtype!(params, "params", T, {
        loss_typed::<T>(py, &net, params, x, y, weights, alpha, l1)
    })
}

#[allow(clippy::too_many_arguments)]
fn loss_typed<'py, T: Float + Element>(
    py: Python<'py>,
    net: &Network,
    params: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    weights: Option<Bound<'py, PyAny>>,
    alpha: f64,
    l1: f64,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let p_view = readonly::<T>(params, "params")?;
    let x_view = readonly::<T>(x, "X")?;
    let y_view = readonly::<T>(y, "Y")?;
    let w_view = weights
        .as_ref()
        .map(|w| readonly::<T>(w, "sample_weight"))
        .transpose()?;
    let (p, xs, ys) = (
        slice(&p_view, "params")?,
        slice(&x_view, "X")?,
        slice(&y_view, "Y")?,
    );
    let ws_opt = w_view
        .as_ref()
        .map(|w| slice(w, "sample_weight"))
        .transpose()?;
    let rows = rows_of(xs.len(), net.sizes()[0], "X")?;
    let k = net.n_outputs();
    if ys.len() != rows * k || ws_opt.is_some_and(|w| w.len() != rows) || rows == 0 {
        return Err(PyValueError::new_err(
            "X, Y and sample_weight must have the same positive number of rows",
        ));
    }
    if p.len() != net.n_params() {
        return Err(PyValueError::new_err(format!(
            "params has {} values, the network needs {}",
            p.len(),
            net.n_params()
        )));
    }
    let ones;
    let weights = match ws_opt {
        Some(w) => w,
        None => {
            ones = vec![T::one(); rows];
            &ones
        }
    };
    let data = Rows {
        x: xs,
        y: ys,
        weights,
        rows,
    };
    let (loss, grad) = py
        .detach(|| net.loss_and_gradients(p, data, alpha, l1))
        .map_err(to_py)?;
    Ok((loss, PyArray1::from_vec(py, grad).into_any()))
}

/// A new array: `name` applied to `z` (softmax works row-wise over `width`).
#[pyfunction]
pub fn activate<'py>(
    py: Python<'py>,
    name: &str,
    z: &Bound<'py, PyAny>,
    width: usize,
    negative_slope: f64,
) -> PyResult<Bound<'py, PyAny>> {
    with_dtype!(z, "Z", T, {
        let view = readonly::<T>(z, "Z")?;
        let mut out = slice(&view, "Z")?.to_vec();
        match parse::elementwise(name, negative_slope)? {
            Elementwise::Softmax => {
                rows_of(out.len(), width, "Z")?;
                out.chunks_exact_mut(width)
                    .for_each(|row| Output::Softmax.apply_row(row));
            }
            Elementwise::Hidden(act) => act.apply(&mut out),
        }
        Ok(PyArray1::from_vec(py, out).into_any())
    })
}

/// A new array: the derivative of `name` at the points whose outputs are `a`.
#[pyfunction]
pub fn activation_derivative<'py>(
    py: Python<'py>,
    name: &str,
    a: &Bound<'py, PyAny>,
    negative_slope: f64,
) -> PyResult<Bound<'py, PyAny>> {
    with_dtype!(a, "A", T, {
        let act = parse::activation(name, negative_slope)?;
        let view = readonly::<T>(a, "A")?;
        let out: Vec<T> = slice(&view, "A")?
            .iter()
            .map(|&v| act.derivative(v))
            .collect();
        Ok(PyArray1::from_vec(py, out).into_any())
    })
}

/// One optimizer step in place on 1-D arrays; `slots` are the state arrays
/// in the optimizer's order, `None` for a slot it never reads (SGD's last
/// two); AdamW decay, if any, applies to every entry.
fn optimizer_step(
    opt: Optimizer,
    params: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    slots: [Option<&Bound<'_, PyAny>>; 3],
    lr: f64,
    t: u64,
) -> PyResult<()> {
    with_dtype!(params, "params", T, {
        opt.validate().map_err(to_py)?;
        let mut p_view = readwrite::<T>(params, "params")?;
        let g_view = readonly::<T>(grad, "grad")?;
        let [v0, v1, v2] = slots.map(|s| s.map(|s| readwrite::<T>(s, "state")).transpose());
        let (mut v0, mut v1, mut v2) = (v0?, v1?, v2?);
        let p = slice_mut(&mut p_view, "params")?;
        let n = p.len();
        let [mut k0, mut k1, mut k2] = [Vec::new(), Vec::new(), Vec::new()];
        let mut state = [
            slot_or_scratch(&mut v0, &mut k0, n)?,
            slot_or_scratch(&mut v1, &mut k1, n)?,
            slot_or_scratch(&mut v2, &mut k2, n)?,
        ];
        let everything = [0..n];
        let g = slice(&g_view, "grad")?;
        opt.update(p, g, &mut state, lr, t, &everything, None, Par::SERIAL)
            .map_err(to_py)?;
        Ok(())
    })
}

/// The data of a state array, or `n` zeros in `scratch` for a slot the
/// optimizer never reads.
fn slot_or_scratch<'a, T: Float + Element>(
    view: &'a mut Option<PyReadwriteArray1<'_, T>>,
    scratch: &'a mut Vec<T>,
    n: usize,
) -> PyResult<&'a mut [T]> {
    match view {
        Some(view) => slice_mut(view, "state"),
        None => {
            scratch.resize(n, T::zero());
            Ok(scratch)
        }
    }
}

/// SGD (momentum, Nesterov) step in place.
#[pyfunction]
#[pyo3(signature = (params, grad, buf, lr, momentum, nesterov))]
pub fn sgd_step(
    params: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    buf: &Bound<'_, PyAny>,
    lr: f64,
    momentum: f64,
    nesterov: bool,
) -> PyResult<()> {
    let opt = Optimizer::Sgd { momentum, nesterov };
    optimizer_step(opt, params, grad, [Some(buf), None, None], lr, 1)
}

/// RMSprop step in place.
#[pyfunction]
#[pyo3(signature = (params, grad, sq, avg, buf, lr, rho, eps, momentum, centered))]
#[allow(clippy::too_many_arguments)]
pub fn rmsprop_step(
    params: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    sq: &Bound<'_, PyAny>,
    avg: &Bound<'_, PyAny>,
    buf: &Bound<'_, PyAny>,
    lr: f64,
    rho: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
) -> PyResult<()> {
    let opt = Optimizer::RmsProp {
        rho,
        eps,
        momentum,
        centered,
    };
    optimizer_step(opt, params, grad, [Some(sq), Some(avg), Some(buf)], lr, 1)
}

/// Adam / AMSGrad / AdamW step in place; `step` is the 1-based step number.
#[pyfunction]
#[pyo3(signature = (params, grad, m, v, vmax, lr, step, beta_1, beta_2, eps, amsgrad, weight_decay))]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    m: &Bound<'_, PyAny>,
    v: &Bound<'_, PyAny>,
    vmax: &Bound<'_, PyAny>,
    lr: f64,
    step: u64,
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    amsgrad: bool,
    weight_decay: f64,
) -> PyResult<()> {
    let opt = Optimizer::Adam {
        beta1: beta_1,
        beta2: beta_2,
        eps,
        amsgrad,
        weight_decay,
    };
    optimizer_step(opt, params, grad, [Some(m), Some(v), Some(vmax)], lr, step)
}

/// The first `n` draws of the random sequence (seed, stream, a, b).
#[pyfunction]
pub fn rng_bits<'py>(
    py: Python<'py>,
    seed: u64,
    stream: u64,
    a: u64,
    b: u64,
    n: usize,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let key = rng::key(seed, stream, a, b);
    let mut draws = Vec::new();
    // A huge `n` is an error to report, not an allocation failure that aborts.
    draws
        .try_reserve_exact(n)
        .map_err(|_| PyValueError::new_err(format!("n = {n} draws do not fit in memory")))?;
    draws.extend((0..n as u64).map(|i| rng::bits(key, i)));
    Ok(PyArray1::from_vec(py, draws))
}
