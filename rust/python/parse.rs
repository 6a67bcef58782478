//! The settings Python passes, read into the core's types: every name the
//! binding receives (activation, output, loss, solver, schedule, stopping,
//! score) is parsed here and only here, and an unknown one is a
//! `ValueError` naming it.
//!
//! Activation, output and loss names are the core's own tables
//! (`Activation::parse`, `Output::parse`, `Loss::parse`), which its tests
//! use too; this module is the binding's one way in to them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::convert::to_py;
use crate::activation::Activation;
use crate::loss::{Loss, Output};
use crate::network::Network;
use crate::optim::{Optimizer, Schedule};
use crate::train::{Score, Stopping, TrainConfig};

/// A hidden activation by name, with leaky ReLU's slope.
pub fn activation(name: &str, negative_slope: f64) -> PyResult<Activation> {
    Activation::parse(name, negative_slope).map_err(to_py)
}

/// An output function by name.
pub fn output(name: &str) -> PyResult<Output> {
    Output::parse(name).map_err(to_py)
}

/// What `fnn.functional.activate` applies: a hidden activation, or softmax
/// (an output function, row by row).
pub enum Elementwise {
    /// A hidden activation, value by value.
    Hidden(Activation),
    /// Softmax over each row.
    Softmax,
}

/// `"softmax"`, or a hidden activation by name.
pub fn elementwise(name: &str, negative_slope: f64) -> PyResult<Elementwise> {
    match name {
        "softmax" => Ok(Elementwise::Softmax),
        _ => activation(name, negative_slope).map(Elementwise::Hidden),
    }
}

/// The architecture as Python describes it (the first fields of
/// `fnn.TrainConfig`).
#[derive(FromPyObject)]
pub struct NetSpec {
    layer_sizes: Vec<usize>,
    activations: Vec<String>,
    negative_slope: f64,
    loss: String,
    output: String,
    huber_delta: f64,
}

impl NetSpec {
    /// The output function the loss goes with.
    pub fn output(&self) -> PyResult<Output> {
        output(&self.output)
    }

    /// The core network, or a `ValueError` naming the bad setting.
    pub fn build(&self) -> PyResult<Network> {
        let acts = self
            .activations
            .iter()
            .map(|a| activation(a, self.negative_slope))
            .collect::<PyResult<Vec<_>>>()?;
        let loss = Loss::parse(&self.loss, self.output()?, self.huber_delta).map_err(to_py)?;
        Network::new(self.layer_sizes.clone(), acts, loss).map_err(to_py)
    }
}

/// The settings of `fnn.TrainConfig` beyond the architecture.
#[derive(FromPyObject)]
struct Settings {
    dropout: Vec<f64>,
    alpha: f64,
    l1: f64,
    solver: String,
    momentum: f64,
    nesterov: bool,
    rho: f64,
    centered: bool,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    weight_decay: f64,
    schedule: String,
    power_t: f64,
    step_size: u64,
    gamma: f64,
    t_max: u64,
    eta_min: f64,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    max_epochs: usize,
    tol: f64,
    n_iter_no_change: u64,
    stopping: String,
    restore_best: bool,
    score: String,
    threads: usize,
}

fn unknown(what: &str, value: &str) -> PyErr {
    PyValueError::new_err(format!("unknown {what} {value:?}"))
}

impl Settings {
    /// The solver named `solver`, with its settings.
    fn optimizer(&self) -> PyResult<Optimizer> {
        Ok(match self.solver.as_str() {
            "sgd" => Optimizer::Sgd {
                momentum: self.momentum,
                nesterov: self.nesterov,
            },
            "rmsprop" => Optimizer::RmsProp {
                rho: self.rho,
                eps: self.epsilon,
                momentum: self.momentum,
                centered: self.centered,
            },
            "adam" | "adamw" => Optimizer::Adam {
                beta1: self.beta_1,
                beta2: self.beta_2,
                eps: self.epsilon,
                amsgrad: self.amsgrad,
                weight_decay: if self.solver == "adamw" {
                    self.weight_decay
                } else {
                    0.0
                },
            },
            other => return Err(unknown("solver", other)),
        })
    }

    /// The schedule named `schedule`, with its settings.
    fn schedule(&self) -> PyResult<Schedule> {
        Ok(match self.schedule.as_str() {
            "constant" => Schedule::Constant,
            "invscaling" => Schedule::InvScaling {
                power_t: self.power_t,
            },
            "adaptive" => Schedule::Adaptive,
            "step" => Schedule::Step {
                step_size: self.step_size,
                gamma: self.gamma,
            },
            "cosine" => Schedule::Cosine {
                t_max: self.t_max,
                eta_min: self.eta_min,
            },
            other => return Err(unknown("schedule", other)),
        })
    }

    /// The stopping rule named `stopping`.
    fn stopping(&self) -> PyResult<Stopping> {
        match self.stopping.as_str() {
            "none" => Ok(Stopping::None),
            "train_loss" => Ok(Stopping::TrainLoss),
            "val_score" => Ok(Stopping::ValScore),
            other => Err(unknown("stopping", other)),
        }
    }

    /// The validation score named `score`.
    fn score(&self) -> PyResult<Score> {
        match self.score.as_str() {
            "accuracy" => Ok(Score::Accuracy),
            "r2" => Ok(Score::R2),
            other => Err(unknown("score", other)),
        }
    }
}

/// The core's training configuration from an `fnn.TrainConfig`.
pub fn train_config(config: &Bound<'_, PyAny>) -> PyResult<TrainConfig> {
    let net = config.extract::<NetSpec>()?.build()?;
    let s = config.extract::<Settings>()?;
    Ok(TrainConfig {
        net,
        optimizer: s.optimizer()?,
        schedule: s.schedule()?,
        stopping: s.stopping()?,
        score: s.score()?,
        dropout: s.dropout,
        alpha: s.alpha,
        l1: s.l1,
        batch_size: s.batch_size,
        shuffle: s.shuffle,
        seed: s.seed,
        max_epochs: s.max_epochs,
        tol: s.tol,
        n_iter_no_change: s.n_iter_no_change,
        restore_best: s.restore_best,
        threads: s.threads,
    })
}
