//! `fnn._core.Predictor`: a fitted model's inference, set up once.
//!
//! The estimators build one per fitted model and keep it while the model
//! stays the same. It holds the parsed network, what turns logits into the
//! estimator's outputs, the parameter array (a reference: in-place edits of
//! ``coefs_`` are seen) and an inference workspace reused from call to call,
//! so a one-row prediction costs little more than its forward pass.
//!
//! [`Predictor::run`] takes only the plain case, an exact `numpy.ndarray`
//! that is 2-D, C-contiguous, aligned, of the model's dtype and column count,
//! with finite values, and otherwise returns `None`: Python then validates
//! in full, so every error and warning stays scikit-learn's own.
//! [`Predictor::finish`] turns the logits of the full path into the same
//! outputs, so both paths give the same bytes.

use std::sync::Mutex;
use std::time::Instant;

use numpy::{Element, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::convert::{dtype_of, readonly, slice, to_py, DType};
use super::parse::NetSpec;
use crate::activation::sigmoid;
use crate::error::Result as CoreResult;
use crate::features::{all_finite, Features};
use crate::float::Float;
use crate::linalg::shares_one_row;
use crate::loss::Output;
use crate::network::Network;
use crate::objective::PREDICT_ROWS;
use crate::parallel::{cores, default_threads, pool, run_with_threads, threads_for_work, Par};
use crate::team::{with_current, Team, IDLE_LIMIT};
use crate::workspace::Workspace;

/// The most threads a one-row prediction shares its products with: its
/// widest layers have a few hundred columns, a run of whole vectors each.
const MAX_ROW_THREADS: usize = 8;

/// What turns a row of logits into the estimator's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    /// The network's output function, in place.
    Output(Output),
    /// One sigmoid output as two probabilities, `σ(−z)` and `σ(z)`: each
    /// straight from the logit, with no `1 − p` cancellation.
    Binary,
    /// One class, certain: a column of ones.
    Certain,
}

impl Finish {
    fn parse(name: &str, output: Output) -> PyResult<Self> {
        match name {
            "output" => Ok(Finish::Output(output)),
            "binary" => Ok(Finish::Binary),
            "certain" => Ok(Finish::Certain),
            other => Err(PyValueError::new_err(format!(
                "unknown finish {other:?}; expected 'output', 'binary' or 'certain'"
            ))),
        }
    }

    /// Outputs per row for `k` logits per row.
    fn width(self, k: usize) -> usize {
        match self {
            Finish::Output(_) => k,
            Finish::Binary => 2,
            Finish::Certain => 1,
        }
    }

    /// The outputs of `logits` (`k` per row), row-major.
    fn apply<T: Float>(self, mut logits: Vec<T>, k: usize) -> Vec<T> {
        match self {
            Finish::Output(output) => {
                logits
                    .chunks_exact_mut(k)
                    .for_each(|row| output.apply_row(row));
                logits
            }
            Finish::Binary => logits
                .iter()
                .flat_map(|&z| [sigmoid(-z), sigmoid(z)])
                .collect(),
            Finish::Certain => vec![T::one(); logits.len() / k],
        }
    }
}

/// The reusable inference workspace of each dtype.
trait Spare: Float + Element {
    fn spare(predictor: &Predictor) -> &Mutex<Option<Workspace<Self>>>;
}

impl Spare for f32 {
    fn spare(predictor: &Predictor) -> &Mutex<Option<Workspace<f32>>> {
        &predictor.spare_f32
    }
}

impl Spare for f64 {
    fn spare(predictor: &Predictor) -> &Mutex<Option<Workspace<f64>>> {
        &predictor.spare_f64
    }
}

/// A fitted model's inference: `Predictor(config, params, finish)`.
///
/// `config` has `fnn.TrainConfig`'s network fields, `params` is the flat
/// float32 or float64 parameter array (kept by reference), and `finish` says
/// what the finished outputs are: `"output"` (the output function),
/// `"binary"` (two probabilities from one sigmoid output) or `"certain"` (a
/// column of ones). Safe to call from several threads at once: a caller that
/// finds the workspace in use makes its own.
#[pyclass(module = "fnn._core", frozen)]
pub struct Predictor {
    net: Network,
    finish: Finish,
    params: Py<PyAny>,
    dtype: DType,
    ndarray: Py<PyType>,
    spare_f32: Mutex<Option<Workspace<f32>>>,
    spare_f64: Mutex<Option<Workspace<f64>>>,
    /// The helpers a one-row prediction shares its wide products with (see
    /// `linalg::one_row_shared`), kept from call to call so that a stream of
    /// rows finds them still spinning, and when the last such row ended.
    team: Mutex<Option<(Team, Instant)>>,
    /// Whether some product is wide enough to share with `team`.
    shares_rows: bool,
}

#[pymethods]
impl Predictor {
    #[new]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        params: &Bound<'_, PyAny>,
        finish: &str,
    ) -> PyResult<Self> {
        let spec = config.extract::<NetSpec>()?;
        let net = spec.build()?;
        let finish = Finish::parse(finish, spec.output()?)?;
        let dtype = dtype_of(params, "params")?;
        let n_params = match dtype {
            DType::F32 => slice(&readonly::<f32>(params, "params")?, "params")?.len(),
            DType::F64 => slice(&readonly::<f64>(params, "params")?, "params")?.len(),
        };
        if n_params != net.n_params() {
            return Err(PyValueError::new_err(format!(
                "params has {n_params} values, the network needs {}",
                net.n_params()
            )));
        }
        let ndarray = py
            .import("numpy")?
            .getattr("ndarray")?
            .cast_into::<PyType>()?;
        Ok(Predictor {
            finish,
            params: params.clone().unbind(),
            dtype,
            ndarray: ndarray.unbind(),
            spare_f32: Mutex::new(None),
            spare_f64: Mutex::new(None),
            team: Mutex::new(None),
            shares_rows: net.sizes().windows(2).any(|w| shares_one_row(w[0], w[1])),
            net,
        })
    }

    /// The logits of `x` (with `finished`, the finished outputs) as a new
    /// 2-D array, or `None` unless `x` is the plain case or when an output
    /// is not finite. `threads` is the count to use, `None` for the default.
    #[pyo3(signature = (x, finished, threads=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        finished: bool,
        threads: Option<usize>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if !x.get_type().is(self.ndarray.bind(py)) {
            return Ok(None);
        }
        // Another dtype or dimension is no plain case either.
        let outputs = match self.dtype {
            DType::F32 => x
                .cast::<PyArray2<f32>>()
                .ok()
                .map(|x| self.run_typed(py, x, finished, threads)),
            DType::F64 => x
                .cast::<PyArray2<f64>>()
                .ok()
                .map(|x| self.run_typed(py, x, finished, threads)),
        };
        Ok(outputs.transpose()?.flatten())
    }

    /// The finished outputs of `logits`, a C-contiguous 2-D array of the
    /// model's dtype with one column per network output.
    fn finish<'py>(
        &self,
        py: Python<'py>,
        logits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.dtype {
            DType::F32 => self.finish_typed::<f32>(py, logits),
            DType::F64 => self.finish_typed::<f64>(py, logits),
        }
    }
}

impl Predictor {
    /// `predict(par)` for one row on `threads` threads: the calling thread
    /// and the helpers of this model's team, lent for the call, which share
    /// its wide products. Serial on one thread, while another thread
    /// predicts with this model, and for a row that comes more than half of
    /// [`IDLE_LIMIT`] after the last one: its helpers may have left by then,
    /// and waking a pool worker to start one costs more than the row.
    fn one_row<R>(
        &self,
        threads: usize,
        predict: impl FnOnce(Par) -> CoreResult<R>,
    ) -> CoreResult<R> {
        // More helpers than cores would spin on each other's cores.
        let threads = threads.min(cores()).clamp(1, MAX_ROW_THREADS);
        let Some(mut slot) = (threads > 1).then(|| self.team.try_lock().ok()).flatten() else {
            return predict(Par::SERIAL);
        };
        // A forked child rebuilds the pool; the parent's helpers are gone.
        // A pool that cannot start (a process limit) leaves the row serial.
        let Ok(pool) = pool(threads) else {
            return predict(Par::SERIAL);
        };
        let outcome = match slot.as_mut() {
            Some((team, last)) if team.threads() == threads && team.is_on(&pool) => {
                // With a margin: the helper's own clock started at its last
                // job, before this thread's call returned.
                if last.elapsed() <= IDLE_LIMIT / 2 {
                    with_current(team, || predict(Par { threads }))
                } else {
                    predict(Par::SERIAL)
                }
            }
            _ => {
                // The first row of a stream; the team starts with the next.
                *slot = Some((Team::on_pool(threads, threads, pool), Instant::now()));
                predict(Par::SERIAL)
            }
        };
        if let Some((_, last)) = slot.as_mut() {
            *last = Instant::now();
        }
        outcome
    }

    fn run_typed<'py, T: Spare>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyArray2<T>>,
        finished: bool,
        threads: Option<usize>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(x_view) = x.try_readonly() else {
            return Ok(None);
        };
        // (`as_slice` takes Fortran order too, which is not rows.)
        let Ok(xs) = x_view.as_slice() else {
            return Ok(None);
        };
        if !x.is_c_contiguous() {
            return Ok(None);
        }
        let (rows, d0) = (x_view.shape()[0], self.net.sizes()[0]);
        let aligned = xs.as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
        if rows == 0 || x_view.shape()[1] != d0 || !aligned {
            return Ok(None);
        }
        let p_view = readonly::<T>(self.params.bind(py), "params")?;
        let p = slice(&p_view, "params")?;
        let (net, k) = (&self.net, self.net.n_outputs());
        let outputs = py
            .detach(|| {
                if !all_finite(xs) {
                    return Ok(None);
                }
                let work = rows.min(PREDICT_ROWS).saturating_mul(net.n_params());
                // The default count only when the work can use it: reading it
                // makes system calls, a small network's pass does not.
                let one_row = rows == 1 && self.shares_rows;
                let threads = if one_row {
                    threads.unwrap_or_else(default_threads)
                } else {
                    match threads_for_work(usize::MAX, work) {
                        1 => 1,
                        _ => threads_for_work(threads.unwrap_or_else(default_threads), work),
                    }
                };
                let features = Features::Dense(xs);
                let predict = |spare: &mut Option<Workspace<T>>| {
                    if one_row {
                        return self.one_row(threads, |par| {
                            net.predict_reusing(p, &features, None, par, spare)
                        });
                    }
                    run_with_threads(threads, || {
                        net.predict_reusing(p, &features, None, Par { threads }, spare)
                    })
                    .and_then(|r| r)
                };
                // Another thread predicting with this model: a workspace of our own.
                let logits = match T::spare(self).try_lock() {
                    Ok(mut spare) => predict(&mut spare)?,
                    Err(_) => predict(&mut None)?,
                };
                if !all_finite(&logits) {
                    return Ok(None);
                }
                if !finished {
                    return Ok(Some(logits));
                }
                let outputs = self.finish.apply(logits, k);
                Ok(all_finite(&outputs).then_some(outputs))
            })
            .map_err(to_py)?;
        let width = if finished { self.finish.width(k) } else { k };
        outputs.map(|o| to_2d(py, o, rows, width)).transpose()
    }

    fn finish_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        logits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = self.net.n_outputs();
        let logits = logits.cast::<PyArray2<T>>().map_err(|_| {
            PyValueError::new_err("logits must be a 2-D array of the parameters' dtype")
        })?;
        let view = logits
            .try_readonly()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let rows = view.shape()[0];
        let z = view
            .as_slice()
            .ok()
            .filter(|z| logits.is_c_contiguous() && z.len() == rows * k)
            .ok_or_else(|| {
                PyValueError::new_err(format!("logits must be C-contiguous with {k} columns"))
            })?;
        let outputs = self.finish.apply(z.to_vec(), k);
        to_2d(py, outputs, rows, self.finish.width(k))
    }
}

/// `values` as a new `rows × width` NumPy array.
///
/// Copied into an array NumPy allocates: cheaper for a few values than
/// handing NumPy the vector (a Python object to own it), and a copy is
/// little next to the pass that computed many.
fn to_2d<'py, T: Element + Copy>(
    py: Python<'py>,
    values: Vec<T>,
    rows: usize,
    width: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let array = PyArray2::<T>::zeros(py, [rows, width], false);
    {
        let mut view = array.try_readwrite()?;
        let out = view
            .as_slice_mut()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        out.copy_from_slice(&values);
    }
    Ok(array.into_any())
}
