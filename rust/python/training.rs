//! Bindings of initialisation and of the training loop.

use numpy::Element;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::convert::{readonly, readwrite, slice, slice_mut, to_py, with_dtype, FeatureViews};
use super::parse::{train_config, NetSpec};
use super::supervise::supervise;
use crate::float::Float;
use crate::train::{self, Counters, Data, TrainConfig};

/// Fills `params` with the initial weights of `spec` for `seed`.
#[pyfunction]
pub fn init_params(spec: &Bound<'_, PyAny>, params: &Bound<'_, PyAny>, seed: u64) -> PyResult<()> {
    let net = spec.extract::<NetSpec>()?.build()?;
    with_dtype!(params, "params", T, {
        let mut view = readwrite::<T>(params, "params")?;
        net.init_params(seed, slice_mut(&mut view, "params")?)
            .map_err(to_py)
    })
}

/// The scalar fields of `fnn.TrainState`.
#[derive(FromPyObject)]
struct StateCounters {
    step: u64,
    epoch: u64,
    samples_seen: u64,
    lr_base: f64,
    best_loss: f64,
    best_score: f64,
    no_improve: u64,
}

/// Writes the counters back into the Python state object.
fn store_counters(state: &Bound<'_, PyAny>, c: &Counters) -> PyResult<()> {
    state.setattr("step", c.step)?;
    state.setattr("epoch", c.epoch)?;
    state.setattr("samples_seen", c.samples_seen)?;
    state.setattr("lr_base", c.lr_base)?;
    state.setattr("best_loss", c.best_loss)?;
    state.setattr("best_score", c.best_score)?;
    state.setattr("no_improve", c.no_improve)
}

/// Appends the epochs of `log` to the Python `EpochLog` and sets its flag.
fn store_log(target: &Bound<'_, PyAny>, log: &train::Log) -> PyResult<()> {
    for (name, values) in [
        ("loss", &log.loss),
        ("val_loss", &log.val_loss),
        ("val_score", &log.val_score),
    ] {
        target
            .getattr(name)?
            .call_method1("extend", (values.clone(),))?;
    }
    target.setattr("converged", log.converged)
}

/// Trains `params` in place; see `fnn._rust_engine.RustEngine.fit_epochs`.
/// The counters of `state` and the epochs run (appended to `log`, an
/// `fnn.EpochLog`) are written back whether training ends normally or with
/// an error, so they always describe the parameters.
#[pyfunction]
#[pyo3(signature = (config, params, slots, state, log, x, y, weights, x_val, y_val, weights_val, callback))]
#[allow(clippy::too_many_arguments)]
pub fn fit_epochs<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    params: &Bound<'py, PyAny>,
    slots: &Bound<'py, PyAny>,
    state: &Bound<'py, PyAny>,
    log: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    weights: Option<Bound<'py, PyAny>>,
    x_val: Option<Bound<'py, PyAny>>,
    y_val: Option<Bound<'py, PyAny>>,
    weights_val: Option<Bound<'py, PyAny>>,
    callback: Option<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let cfg = train_config(config)?;
    let arrays = Arrays {
        params,
        slots,
        x,
        y,
        weights,
        x_val,
        y_val,
        weights_val,
    };
    with_dtype!(
        params,
        "params",
        T,
        fit_typed::<T>(py, &cfg, arrays, state, log, callback)
    )
}

struct Arrays<'a, 'py> {
    params: &'a Bound<'py, PyAny>,
    slots: &'a Bound<'py, PyAny>,
    x: &'a Bound<'py, PyAny>,
    y: &'a Bound<'py, PyAny>,
    weights: Option<Bound<'py, PyAny>>,
    x_val: Option<Bound<'py, PyAny>>,
    y_val: Option<Bound<'py, PyAny>>,
    weights_val: Option<Bound<'py, PyAny>>,
}

fn fit_typed<T: Float + Element>(
    py: Python<'_>,
    cfg: &TrainConfig,
    a: Arrays<'_, '_>,
    state: &Bound<'_, PyAny>,
    py_log: &Bound<'_, PyAny>,
    callback: Option<Bound<'_, PyAny>>,
) -> PyResult<()> {
    let d0 = cfg.net.sizes()[0];
    let mut params_view = readwrite::<T>(a.params, "params")?;
    let mut slots_view = readwrite::<T>(a.slots, "optimizer state")?;
    let x_view = FeatureViews::<T>::extract(a.x, "X")?;
    let y_view = readonly::<T>(a.y, "Y")?;
    let w_view = a
        .weights
        .as_ref()
        .map(|w| readonly::<T>(w, "sample_weight"))
        .transpose()?;
    let val_views = match (&a.x_val, &a.y_val) {
        (Some(xv), Some(yv)) => Some((
            FeatureViews::<T>::extract(xv, "X_val")?,
            readonly::<T>(yv, "Y_val")?,
            a.weights_val
                .as_ref()
                .map(|w| readonly::<T>(w, "validation weights"))
                .transpose()?,
        )),
        (None, None) => None,
        _ => return Err(PyValueError::new_err("X_val and Y_val go together")),
    };
    let x = x_view.features("X")?;
    let train = Data {
        x,
        y: slice(&y_view, "Y")?,
        weights: w_view
            .as_ref()
            .map(|w| slice(w, "sample_weight"))
            .transpose()?,
        rows: x.rows(d0),
    };
    let validation = match &val_views {
        Some((xv, yv, wv)) => {
            let xs = xv.features("X_val")?;
            Some(Data {
                x: xs,
                y: slice(yv, "Y_val")?,
                weights: wv
                    .as_ref()
                    .map(|w| slice(w, "validation weights"))
                    .transpose()?,
                rows: xs.rows(d0),
            })
        }
        None => None,
    };
    let params = slice_mut(&mut params_view, "params")?;
    let slots = slice_mut(&mut slots_view, "optimizer state")?;
    let s = state.extract::<StateCounters>()?;
    let mut c = Counters {
        step: s.step,
        epoch: s.epoch,
        samples_seen: s.samples_seen,
        lr_base: s.lr_base,
        best_loss: s.best_loss,
        best_score: s.best_score,
        no_improve: s.no_improve,
    };
    let callback = callback.map(|cb| cb.unbind());
    let on_epoch = callback.map(|cb| {
        move |py: Python<'_>, r: &train::EpochRecord| -> PyResult<bool> {
            cb.bind(py)
                .call1((r.epoch, r.loss, r.val_loss, r.val_score))?
                .is_truthy()
        }
    });
    let threads = cfg.effective_threads(train.rows);
    let (counters_ref, mut log) = (&mut c, train::Log::default());
    let log_ref = &mut log;
    let outcome = supervise(
        py,
        threads,
        move |monitor| {
            let (p, s, c) = (params, slots, counters_ref);
            train::fit_epochs_into(cfg, p, s, c, train, validation, monitor, log_ref)
        },
        on_epoch,
    );
    store_counters(state, &c)?;
    store_log(py_log, &log)?;
    outcome?.map_err(to_py)
}
