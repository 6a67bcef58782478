//! The epoch loop (spec section 8): shuffle, minibatches gathered by index,
//! forward, loss, backward, penalties, optimizer step, validation and
//! scikit-learn's stopping rules.

use crate::batch::{blocks_for, prefetch_distance, BatchStep, Source};
use crate::dropout::Dropout;
use crate::error::{check_len, FnnError, Result};
use crate::features::Features;
use crate::float::Float;
use crate::loss::{argmax, Loss, Output};
use crate::network::Network;
use crate::optim::{Optimizer, Schedule};
use crate::parallel::{threads_for_work, Par};
use crate::penalty::{self, Penalty};
use crate::rng;
use crate::simd::FlushSubnormals;
use crate::update::StepSettings;
use crate::workspace::Workspace;

/// Which rule ends training early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopping {
    /// Run every epoch asked for.
    None,
    /// Stop when the training loss stops improving by `tol`.
    TrainLoss,
    /// Stop when the validation score stops improving by `tol`.
    ValScore,
}

/// The validation score reported per epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Weighted fraction of rows predicted right.
    Accuracy,
    /// Weighted R², averaged over outputs.
    R2,
}

/// Everything fixed for one training call.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The architecture, its activations and its loss.
    pub net: Network,
    /// One rate per hidden layer (empty: none).
    pub dropout: Vec<f64>,
    /// The L2 penalty's strength (scikit-learn's `alpha`, spec section 4).
    pub alpha: f64,
    /// The L1 penalty's strength (spec section 4).
    pub l1: f64,
    /// The update rule and its settings (spec section 6).
    pub optimizer: Optimizer,
    /// How the learning rate moves from epoch to epoch (spec section 7).
    pub schedule: Schedule,
    /// Rows per minibatch; clamped to `1..=rows` of the training data.
    pub batch_size: usize,
    /// Visit the rows in a new order every epoch, drawn from `seed`.
    pub shuffle: bool,
    /// The key of every random stream: shuffles and dropout masks (spec section 2).
    pub seed: u64,
    /// The most epochs this call runs.
    pub max_epochs: usize,
    /// The improvement the stopping rule asks of the watched figure.
    pub tol: f64,
    /// Epochs without improvement the stopping rule tolerates.
    pub n_iter_no_change: u64,
    /// Which figure the stopping rule watches, if any.
    pub stopping: Stopping,
    /// With [`Stopping::ValScore`], end the call on the best parameters it saw.
    pub restore_best: bool,
    /// The validation score reported per epoch.
    pub score: Score,
    /// The threads asked for; results do not depend on it.
    pub threads: usize,
}

impl TrainConfig {
    /// Threads worth using on `rows` training rows: `threads`, at most one per
    /// block of a batch, or 1 when a batch is too small to gain from more
    /// (results are the same either way).
    pub fn effective_threads(&self, rows: usize) -> usize {
        let batch = self.batch_size.clamp(1, rows.max(1));
        match blocks_for(&self.net, batch) {
            1 => threads_for_work(self.threads, batch.saturating_mul(self.net.n_params())),
            // More threads than blocks would only wait.
            blocks => threads_for_work(self.threads, usize::MAX).min(blocks),
        }
    }
}

/// The scalar part of the training state, carried across calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counters {
    /// Optimizer steps taken so far (Adam's `t` is `step + 1`).
    pub step: u64,
    /// Epochs finished so far: the schedule's and the shuffle's epoch.
    pub epoch: u64,
    /// Rows trained on so far (invscaling's count).
    pub samples_seen: u64,
    /// The rate the schedule starts from; the adaptive schedule divides it by 5.
    pub lr_base: f64,
    /// The lowest epoch training loss so far.
    pub best_loss: f64,
    /// The highest validation score so far.
    pub best_score: f64,
    /// Epochs in a row without improvement of the watched figure.
    pub no_improve: u64,
}

impl Counters {
    /// The state before a training's first step: nothing done yet, the
    /// schedule starting from `lr_base`, no best loss or score.
    pub fn start(lr_base: f64) -> Self {
        Counters {
            step: 0,
            epoch: 0,
            samples_seen: 0,
            lr_base,
            best_loss: f64::INFINITY,
            best_score: f64::NEG_INFINITY,
            no_improve: 0,
        }
    }
}

/// Rows of inputs, targets and optional weights, all row-major.
#[derive(Clone, Copy, Debug)]
pub struct Data<'a, T> {
    /// The inputs, `rows × features`.
    pub x: Features<'a, T>,
    /// The targets, `rows × outputs`.
    pub y: &'a [T],
    /// One sample weight per row (`None`: all 1).
    pub weights: Option<&'a [T]>,
    /// The number of rows.
    pub rows: usize,
}

impl<'a, T: Float> Data<'a, T> {
    fn check(&self, net: &Network, what: &str) -> Result<()> {
        self.x
            .check(self.rows, net.sizes()[0], &format!("{what} X"))?;
        check_len(
            &format!("{what} Y"),
            self.y.len(),
            self.rows.saturating_mul(net.n_outputs()),
        )?;
        if let Some(w) = self.weights {
            check_len(&format!("{what} sample weights"), w.len(), self.rows)?;
            if w.iter().any(|v| !(*v >= T::zero()) || !v.is_finite()) {
                return Err(FnnError::Shape(format!(
                    "{what} sample weights must be finite and >= 0"
                )));
            }
        }
        Ok(())
    }
}

/// One epoch's figures, as the monitor sees them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// The epochs finished, this one included (1-based).
    pub epoch: u64,
    /// The epoch's training loss, penalty included.
    pub loss: f64,
    /// The validation loss after the epoch (NaN without validation data).
    pub val_loss: f64,
    /// The validation score after the epoch (NaN without validation data).
    pub val_score: f64,
    /// The learning rate the epoch ran with.
    pub lr: f64,
}

/// What one call reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    /// Each epoch's training loss, penalty included.
    pub loss: Vec<f64>,
    /// Each epoch's validation loss (NaN without validation data).
    pub val_loss: Vec<f64>,
    /// Each epoch's validation score (NaN without validation data).
    pub val_score: Vec<f64>,
    /// Whether the stopping rule ended the call.
    pub converged: bool,
}

/// The caller's hooks: `poll` between batches (return `Err` to abort),
/// `epoch_end` after each epoch (return `true` to stop).
pub trait Monitor {
    /// Called before each batch; an `Err` aborts training with that error.
    fn poll(&mut self) -> Result<()> {
        Ok(())
    }
    /// Called after each epoch with its figures; `Ok(true)` stops training.
    fn epoch_end(&mut self, _record: &EpochRecord) -> Result<bool> {
        Ok(false)
    }
}

/// A monitor that never interrupts.
pub struct Silent;
impl Monitor for Silent {}

/// Rows the validation pass evaluates at once.
const EVAL_ROWS: usize = 1024;

/// Trains `params` in place for up to `cfg.max_epochs` epochs.
pub fn fit_epochs<T: Float>(
    cfg: &TrainConfig,
    params: &mut [T],
    slots: &mut [T],
    counters: &mut Counters,
    train: Data<'_, T>,
    validation: Option<Data<'_, T>>,
    monitor: &mut dyn Monitor,
) -> Result<Log> {
    let mut log = Log::default();
    fit_epochs_into(
        cfg, params, slots, counters, train, validation, monitor, &mut log,
    )?;
    Ok(log)
}

/// [`fit_epochs`] appending each finished epoch to `log` as it goes, so the
/// epochs before an error or an interruption stay on record.
#[allow(clippy::too_many_arguments)]
pub fn fit_epochs_into<T: Float>(
    cfg: &TrainConfig,
    params: &mut [T],
    slots: &mut [T],
    counters: &mut Counters,
    train: Data<'_, T>,
    validation: Option<Data<'_, T>>,
    monitor: &mut dyn Monitor,
    log: &mut Log,
) -> Result<()> {
    check_inputs(cfg, params, slots, &train, validation.as_ref())?;
    let _flush = FlushSubnormals::new();
    let net = &cfg.net;
    let batch = cfg.batch_size.clamp(1, train.rows);
    let mut step = BatchStep::<T>::new(net, batch, &cfg.dropout)?;
    let mut eval_ws = match &validation {
        Some(v) => Some(Workspace::<T>::for_inference(
            net,
            batch.max(v.rows.min(EVAL_ROWS)),
        )?),
        None => None,
    };
    let mut order: Vec<usize> = (0..train.rows).collect();
    let mut sort_scratch = Vec::with_capacity(if cfg.shuffle { train.rows } else { 0 });
    let mut best: Option<Vec<T>> = None;
    // The threads the caller's pool has (see `run_with_threads`): asking the
    // GEMM for more would spill into rayon's global pool.
    let par = Par {
        threads: cfg.effective_threads(train.rows),
    };
    for _ in 0..cfg.max_epochs {
        let lr = cfg
            .schedule
            .rate(counters.lr_base, counters.epoch, counters.samples_seen);
        if cfg.shuffle {
            rng::shuffle_order(cfg.seed, counters.epoch, &mut order, &mut sort_scratch, par);
        }
        let epoch = EpochRun {
            cfg,
            train: &train,
            order: &order,
            batch,
            lr,
            par,
        };
        let loss = epoch.run(params, slots, counters, &mut step, monitor)?;
        let (val_loss, val_score) = match (&validation, &mut eval_ws) {
            (Some(v), Some(ws)) => evaluate(net, params, ws, v, cfg.score, par)?,
            _ => (f64::NAN, f64::NAN),
        };
        counters.epoch += 1;
        log.loss.push(loss);
        log.val_loss.push(val_loss);
        log.val_score.push(val_score);
        let stop = update_stopping(cfg, counters, loss, val_score, params, &mut best);
        log.converged |= stop;
        let record = EpochRecord {
            epoch: counters.epoch,
            loss,
            val_loss,
            val_score,
            lr,
        };
        if monitor.epoch_end(&record)? || stop {
            break;
        }
    }
    if let (Stopping::ValScore, true, Some(b)) = (cfg.stopping, cfg.restore_best, &best) {
        params.copy_from_slice(b);
    }
    Ok(())
}

/// `Err` unless every buffer and setting of a training call is consistent.
fn check_inputs<T: Float>(
    cfg: &TrainConfig,
    params: &[T],
    slots: &[T],
    train: &Data<'_, T>,
    validation: Option<&Data<'_, T>>,
) -> Result<()> {
    let net = &cfg.net;
    check_len("params", params.len(), net.n_params())?;
    check_len("optimizer state", slots.len(), 3 * net.n_params())?;
    train.check(net, "training")?;
    if let Some(v) = validation {
        v.check(net, "validation")?;
    }
    if train.rows == 0 {
        return Err(FnnError::Shape("training needs at least one row".into()));
    }
    if !cfg.dropout.is_empty() && cfg.dropout.len() != net.n_layers() - 1 {
        return Err(FnnError::Config(
            "dropout needs one rate per hidden layer".into(),
        ));
    }
    if cfg.dropout.iter().any(|p| !(0.0..1.0).contains(p)) {
        return Err(FnnError::Config("dropout rates must be in [0, 1)".into()));
    }
    cfg.optimizer.validate()?;
    penalty::validate(cfg.alpha, cfg.l1)?;
    if cfg.stopping == Stopping::ValScore && validation.is_none() {
        return Err(FnnError::Config(
            "stopping on the validation score needs validation data".into(),
        ));
    }
    Ok(())
}

/// What one epoch's batches share.
struct EpochRun<'a, 'd, T> {
    cfg: &'a TrainConfig,
    train: &'a Data<'d, T>,
    /// The epoch's row order.
    order: &'a [usize],
    batch: usize,
    lr: f64,
    par: Par,
}

impl<T: Float> EpochRun<'_, '_, T> {
    /// One pass over the rows in `order`, a batch at a time: gather, forward
    /// and backward, optimizer step. Returns the epoch's mean objective.
    fn run(
        &self,
        params: &mut [T],
        slots: &mut [T],
        counters: &mut Counters,
        step: &mut BatchStep<T>,
        monitor: &mut dyn Monitor,
    ) -> Result<f64> {
        let (cfg, par) = (self.cfg, self.par);
        let has_dropout = cfg.dropout.iter().any(|&p| p > 0.0);
        let mut loss_sum = 0.0;
        let mut weight_total = 0.0;
        let t = self.train;
        let prefetch = prefetch_distance(&t.x, t.y);
        for chunk in self.order.chunks(self.batch) {
            monitor.poll()?;
            let rows = chunk.len();
            let source = Source {
                x: &t.x,
                y: t.y,
                weights: t.weights,
                order: chunk,
                prefetch,
            };
            let dropout = has_dropout.then_some(Dropout {
                rates: &cfg.dropout,
                seed: cfg.seed,
                step: counters.step,
                first_row: 0,
            });
            // The data term's gradient only: the optimizer step adds the
            // penalty's as it reads each weight, where the work hides under its
            // divisions instead of costing a pass over memory of its own.
            let batch =
                step.loss_and_gradient(&cfg.net, params, Some(source), rows, dropout, par)?;
            let (mut batch_loss, weight_sum) = (batch.loss, batch.weight_sum);
            counters.step += 1;
            let penalty = Penalty::new(cfg.alpha, cfg.l1, weight_sum);
            let settings = StepSettings {
                optimizer: &cfg.optimizer,
                lr: self.lr,
                t: counters.step,
                penalty,
            };
            let sums = step.update(settings, params, slots, par)?;
            if let Some(penalty) = penalty {
                batch_loss += penalty.value(sums) / weight_sum.f64();
            }
            counters.samples_seen += rows as u64;
            loss_sum += batch_loss * batch.weight;
            weight_total += batch.weight;
        }
        let loss = loss_sum / weight_total;
        if !loss.is_finite() {
            return Err(FnnError::Diverged {
                epoch: counters.epoch as usize + 1,
            });
        }
        Ok(loss)
    }
}

/// scikit-learn's stopping rules after an epoch with training `loss` and
/// validation score `val_score`: counts epochs without improvement, keeps the
/// best parameters so far in `best` (when stopping on the validation score),
/// and divides the adaptive rate by 5 where scikit-learn does. Returns
/// whether training has converged.
fn update_stopping<T: Float>(
    cfg: &TrainConfig,
    counters: &mut Counters,
    loss: f64,
    val_score: f64,
    params: &[T],
    best: &mut Option<Vec<T>>,
) -> bool {
    match cfg.stopping {
        Stopping::ValScore => {
            if val_score < counters.best_score + cfg.tol {
                counters.no_improve += 1;
            } else {
                counters.no_improve = 0;
            }
            if val_score > counters.best_score {
                counters.best_score = val_score;
                match best {
                    Some(b) => b.copy_from_slice(params),
                    None => *best = Some(params.to_vec()),
                }
            }
        }
        Stopping::TrainLoss => {
            if loss > counters.best_loss - cfg.tol {
                counters.no_improve += 1;
            } else {
                counters.no_improve = 0;
            }
        }
        Stopping::None => {}
    }
    counters.best_loss = counters.best_loss.min(loss);
    if cfg.stopping != Stopping::None && counters.no_improve > cfg.n_iter_no_change {
        if cfg.schedule == Schedule::Adaptive && counters.lr_base > 1e-6 {
            counters.lr_base /= 5.0;
            counters.no_improve = 0;
        } else {
            return true;
        }
    }
    false
}

/// Validation loss (no penalty) and score of `params` on `data`.
fn evaluate<T: Float>(
    net: &Network,
    params: &[T],
    ws: &mut Workspace<T>,
    data: &Data<'_, T>,
    score: Score,
    par: Par,
) -> Result<(f64, f64)> {
    let k = net.n_outputs();
    let loss = net.loss();
    let weight = |i: usize| data.weights.map_or(1.0, |w| w[i].f64());
    let weight_sum: f64 = (0..data.rows).map(weight).sum();
    if !(weight_sum > 0.0) {
        return Err(FnnError::Shape(
            "validation sample weights must sum to a positive number".into(),
        ));
    }
    // R² needs each target column's weighted mean first.
    let mut means = vec![0.0; k];
    if score == Score::R2 {
        for (i, y) in data.y.chunks_exact(k).enumerate() {
            for (mean, &yj) in means.iter_mut().zip(y) {
                *mean += weight(i) * yj.f64() / weight_sum;
            }
        }
    }
    let (mut loss_sum, mut correct) = (0.0, 0.0);
    let (mut ss_res, mut ss_tot) = (vec![0.0; k], vec![0.0; k]);
    let mut scratch = vec![T::zero(); k];
    let mut start = 0;
    while start < data.rows {
        let rows = (data.rows - start).min(ws.capacity());
        net.forward_rows(params, ws, &data.x, start, rows, par)?;
        let logits = ws.logits(rows, net);
        for r in 0..rows {
            let i = start + r;
            let (z, y) = (&logits[r * k..(r + 1) * k], &data.y[i * k..(i + 1) * k]);
            let w = weight(i);
            loss_sum += w * loss.row(z, y, T::one(), &mut scratch);
            match score {
                Score::Accuracy => {
                    if row_is_correct(loss, z, y) {
                        correct += w;
                    }
                }
                Score::R2 => {
                    for j in 0..k {
                        // R² of the predictions: e^z under the log link.
                        let pred = if loss.output() == Output::Exp {
                            z[j].exp()
                        } else {
                            z[j]
                        };
                        let (zf, yf) = (pred.f64(), y[j].f64());
                        ss_res[j] += w * (yf - zf) * (yf - zf);
                        ss_tot[j] += w * (yf - means[j]) * (yf - means[j]);
                    }
                }
            }
        }
        start += rows;
    }
    let value = match score {
        Score::Accuracy => correct / weight_sum,
        Score::R2 => {
            let per_output = ss_res.iter().zip(&ss_tot).map(|(&res, &tot)| {
                if tot != 0.0 {
                    1.0 - res / tot
                } else if res == 0.0 {
                    1.0
                } else {
                    0.0
                }
            });
            per_output.sum::<f64>() / k as f64
        }
    };
    Ok((loss_sum / weight_sum, value))
}

/// Whether the logits `z` predict the target row `y` (spec section 8).
fn row_is_correct<T: Float>(loss: Loss, z: &[T], y: &[T]) -> bool {
    let k = z.len();
    let single_label = k > 1
        && (loss.output() == Output::Softmax
            || matches!(loss, Loss::Hinge | Loss::SquaredHinge | Loss::SquaredError));
    if single_label {
        return argmax(z) == argmax(y);
    }
    let threshold = T::of(match loss {
        Loss::SquaredError | Loss::Huber { .. } => 0.5,
        _ => 0.0,
    });
    let half = T::of(0.5);
    z.iter()
        .zip(y)
        .all(|(&zj, &yj)| (zj > threshold) == (yj > half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    fn xor_config(max_epochs: usize) -> TrainConfig {
        TrainConfig {
            net: Network::new(vec![2, 8, 1], vec![Activation::Tanh], Loss::SigmoidLogLoss).unwrap(),
            dropout: vec![],
            alpha: 0.0,
            l1: 0.0,
            optimizer: Optimizer::ADAM,
            schedule: Schedule::Constant,
            batch_size: 4,
            shuffle: true,
            seed: 3,
            max_epochs,
            tol: 1e-4,
            n_iter_no_change: 10,
            stopping: Stopping::None,
            restore_best: true,
            score: Score::Accuracy,
            threads: 1,
        }
    }

    fn counters() -> Counters {
        Counters::start(0.05)
    }

    const X: [f64; 8] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    const Y: [f64; 4] = [0.0, 1.0, 1.0, 0.0];

    #[test]
    fn xor_is_learned_perfectly() {
        let cfg = xor_config(500);
        let mut params = vec![0.0; cfg.net.n_params()];
        cfg.net.init_params(cfg.seed, &mut params).unwrap();
        let mut slots = vec![0.0; 3 * params.len()];
        let mut c = counters();
        let data = Data {
            x: Features::Dense(&X),
            y: &Y,
            weights: None,
            rows: 4,
        };
        let log = fit_epochs(
            &cfg,
            &mut params,
            &mut slots,
            &mut c,
            data,
            Some(data),
            &mut Silent,
        )
        .unwrap();
        assert_eq!(log.loss.len(), 500);
        assert_eq!(*log.val_score.last().unwrap(), 1.0);
        assert!(
            log.loss[499] < 0.05 * log.loss[0],
            "{} vs {}",
            log.loss[499],
            log.loss[0]
        );
        assert_eq!((c.step, c.epoch, c.samples_seen), (500, 500, 2000));
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let cfg = xor_config(1);
        let mut params = vec![0.0; cfg.net.n_params()];
        let mut slots = vec![0.0; 3 * params.len()];
        let data = Data {
            x: Features::Dense(&X[..6]),
            y: &Y,
            weights: None,
            rows: 4,
        };
        let err = fit_epochs(
            &cfg,
            &mut params,
            &mut slots,
            &mut counters(),
            data,
            None,
            &mut Silent,
        );
        assert!(matches!(err, Err(FnnError::Shape(_))));
    }

    #[test]
    fn a_huge_learning_rate_reports_divergence() {
        let mut cfg = xor_config(50);
        cfg.net = Network::new(vec![2, 8, 1], vec![Activation::Relu], Loss::SquaredError).unwrap();
        cfg.optimizer = Optimizer::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        let mut params = vec![0.0; cfg.net.n_params()];
        cfg.net.init_params(1, &mut params).unwrap();
        let mut slots = vec![0.0; 3 * params.len()];
        let mut c = counters();
        c.lr_base = 1e6;
        let x = [1e3, -1e3, 2e3, 5e2, -1e3, 1e3, 4e3, 1e3];
        let data = Data {
            x: Features::Dense(&x),
            y: &Y,
            weights: None,
            rows: 4,
        };
        let err = fit_epochs(
            &cfg,
            &mut params,
            &mut slots,
            &mut c,
            data,
            None,
            &mut Silent,
        );
        assert!(matches!(err, Err(FnnError::Diverged { .. })), "{err:?}");
    }
}
