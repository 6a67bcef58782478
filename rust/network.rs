//! Layer shapes, the flat parameter buffer, the workspace, forward and backward
//! (spec sections 1–5).
//!
//! Parameters live in one flat buffer: per layer the row-major weights
//! `(d_in × d_out)` and then the biases. The workspace is sized once per call,
//! so the batch loop allocates nothing.

use std::ops::Range;

use crate::activation::Activation;
use crate::error::{check_len, FnnError, Result};
use crate::features::Features;
use crate::float::Float;
use crate::linalg::{matmul, View};
use crate::loss::Loss;
use crate::parallel::Par;
use crate::penalty::{self, Penalty, WeightSums};
use crate::rng;

/// The architecture: layer sizes, hidden activations and the loss.
#[derive(Clone, Debug)]
pub struct Network {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    loss: Loss,
    /// Start of each layer's weights in the flat buffer (one extra: the end).
    offsets: Vec<usize>,
}

impl Network {
    /// A network with `sizes = [features, hidden..., outputs]` and one
    /// activation per hidden layer.
    pub fn new(sizes: Vec<usize>, activations: Vec<Activation>, loss: Loss) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(FnnError::Config(format!(
                "layer sizes need at least an input and an output size, all positive; got {sizes:?}"
            )));
        }
        if activations.len() != sizes.len() - 2 {
            return Err(FnnError::Config(format!(
                "{} hidden layers need {} activations, got {}",
                sizes.len() - 2,
                sizes.len() - 2,
                activations.len()
            )));
        }
        let mut offsets = vec![0usize];
        for w in sizes.windows(2) {
            let layer = w[0]
                .checked_mul(w[1])
                .and_then(|x| x.checked_add(w[1]))
                .and_then(|x| x.checked_add(*offsets.last().unwrap_or(&0)))
                .ok_or_else(|| FnnError::Config("the network is too large".into()))?;
            offsets.push(layer);
        }
        Ok(Network {
            sizes,
            activations,
            loss,
            offsets,
        })
    }

    /// Layer sizes from inputs to outputs.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The loss the network trains with.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Number of weight layers.
    pub fn n_layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// Length of the flat parameter buffer.
    pub fn n_params(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    /// Where layer `l`'s weights sit in the flat buffer.
    pub fn weight_range(&self, l: usize) -> Range<usize> {
        let start = self.offsets[l];
        start..start + self.sizes[l] * self.sizes[l + 1]
    }

    /// Where layer `l`'s biases sit in the flat buffer.
    pub fn bias_range(&self, l: usize) -> Range<usize> {
        self.weight_range(l).end..self.offsets[l + 1]
    }

    /// Ranges of all weights (not biases): what penalties and weight decay touch.
    pub fn weight_ranges(&self) -> Vec<Range<usize>> {
        (0..self.n_layers()).map(|l| self.weight_range(l)).collect()
    }

    /// Glorot-uniform initial parameters (spec section 2).
    pub fn init_params<T: Float>(&self, seed: u64, params: &mut [T]) -> Result<()> {
        check_len("params", params.len(), self.n_params())?;
        for l in 0..self.n_layers() {
            let act = self
                .activations
                .get(l.min(self.activations.len().saturating_sub(1)));
            let factor = if act == Some(&Activation::Sigmoid) {
                2.0
            } else {
                6.0
            };
            let bound = (factor / (self.sizes[l] + self.sizes[l + 1]) as f64).sqrt();
            for (part, range) in [(0u64, self.weight_range(l)), (1, self.bias_range(l))] {
                let key = rng::key(seed, rng::INIT, l as u64, part);
                for (i, p) in params[range].iter_mut().enumerate() {
                    *p = T::of(bound * (2.0 * rng::uniform(key, i as u64) - 1.0));
                }
            }
        }
        Ok(())
    }
}

fn too_large() -> FnnError {
    FnnError::Config(
        "the network's buffers do not fit in memory; use fewer or narrower layers".into(),
    )
}

/// A zeroed `rows × width` buffer; sizes that do not fit in memory are an
/// error, not an abort.
pub(crate) fn zeroed<T: Float>(rows: usize, width: usize) -> Result<Vec<T>> {
    let len = rows.checked_mul(width).ok_or_else(too_large)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_large())?;
    v.resize(len, T::zero());
    Ok(v)
}

/// Dropout draws above which the mask is drawn on all threads.
const PARALLEL_MIN_DRAWS: usize = 1 << 12;

/// 2^53: [`rng::uniform`] draws are multiples of its inverse.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// Dropout for one forward pass: the rates per hidden layer and where in the
/// random stream this batch's masks come from.
#[derive(Clone, Copy, Debug)]
pub struct Dropout<'a> {
    /// One rate per hidden layer.
    pub rates: &'a [f64],
    /// The run's seed.
    pub seed: u64,
    /// The optimizer step this batch belongs to.
    pub step: u64,
}

/// Buffers for one batch of up to `capacity` rows, allocated once.
pub struct Workspace<T> {
    capacity: usize,
    /// The layer sizes of the network the buffers were made for.
    sizes: Vec<usize>,
    /// The gathered batch inputs.
    pub input: Vec<T>,
    /// The gathered batch targets.
    pub targets: Vec<T>,
    /// The gathered batch sample weights.
    pub weights: Vec<T>,
    /// Each layer's output (after dropout); the last holds the logits.
    acts: Vec<Vec<T>>,
    /// Hidden outputs before dropout, kept only for layers with dropout.
    pre_dropout: Vec<Vec<T>>,
    /// Dropout scales (0 or 1/(1−p)) for layers with dropout.
    masks: Vec<Vec<T>>,
    /// Gradients of the loss with respect to each layer's pre-activation.
    deltas: Vec<Vec<T>>,
    /// The gradient of the batch objective, shaped like the parameters.
    pub grad: Vec<T>,
}

impl<T: Float> Workspace<T> {
    /// Buffers for `net` and batches of at most `capacity` rows; dropout
    /// buffers only for hidden layers whose rate is positive. Sizes that do
    /// not fit in memory are an error, not an abort.
    pub fn new(net: &Network, capacity: usize, dropout_rates: &[f64]) -> Result<Self> {
        let s = net.sizes();
        let zeros = zeroed::<T>;
        let hidden_buf = |h: usize| {
            let rate = dropout_rates.get(h).copied().unwrap_or(0.0);
            zeros(if rate > 0.0 { capacity } else { 0 }, s[h + 1])
        };
        let hidden = 0..net.n_layers() - 1;
        Ok(Workspace {
            capacity,
            sizes: s.to_vec(),
            input: zeros(capacity, s[0])?,
            targets: zeros(capacity, net.n_outputs())?,
            weights: zeros(capacity, 1)?,
            acts: (0..net.n_layers())
                .map(|l| zeros(capacity, s[l + 1]))
                .collect::<Result<_>>()?,
            pre_dropout: hidden.clone().map(hidden_buf).collect::<Result<_>>()?,
            masks: hidden.map(hidden_buf).collect::<Result<_>>()?,
            deltas: (0..net.n_layers())
                .map(|l| zeros(capacity, s[l + 1]))
                .collect::<Result<_>>()?,
            grad: zeros(net.n_params(), 1)?,
        })
    }

    /// Buffers for inference only, for `net` and passes of at most
    /// `capacity` rows: each layer's outputs and nothing for training (no
    /// targets, deltas or gradient, which for one row cost more to allocate
    /// and zero than the pass itself). Sparse inputs get their dense buffer
    /// on first use; `backward` rejects this workspace.
    pub fn for_inference(net: &Network, capacity: usize) -> Result<Self> {
        let s = net.sizes();
        let no_dropout = || vec![Vec::new(); net.n_layers() - 1];
        Ok(Workspace {
            capacity,
            sizes: s.to_vec(),
            input: Vec::new(),
            targets: Vec::new(),
            weights: Vec::new(),
            acts: (0..net.n_layers())
                .map(|l| zeroed(capacity, s[l + 1]))
                .collect::<Result<_>>()?,
            pre_dropout: no_dropout(),
            masks: no_dropout(),
            deltas: Vec::new(),
            grad: Vec::new(),
        })
    }

    /// Whether the workspace has the buffers `backward` needs.
    fn can_train(&self, net: &Network) -> bool {
        self.grad.len() == net.n_params() && self.deltas.len() == net.n_layers()
    }

    /// The most rows one pass can take.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The sum `S` of the first `rows` gathered sample weights; `Err` unless
    /// positive.
    pub fn weight_sum(&self, rows: usize) -> Result<T> {
        let sum: T = self.weights[..rows.min(self.capacity)]
            .iter()
            .copied()
            .sum();
        if sum > T::zero() {
            Ok(sum)
        } else {
            Err(FnnError::Shape(
                "a batch's sample weights must sum to a positive number".into(),
            ))
        }
    }

    /// The logits of the last forward pass (`rows × outputs`).
    pub fn logits(&self, rows: usize, net: &Network) -> &[T] {
        &self.acts[net.n_layers() - 1][..rows * net.n_outputs()]
    }

    /// Mutable logits, for turning them into predictions in place.
    pub fn logits_mut(&mut self, rows: usize, net: &Network) -> &mut [T] {
        let k = net.n_outputs();
        &mut self.acts[net.n_layers() - 1][..rows * k]
    }
}

impl Network {
    /// Forward pass of `rows` rows of `input` (row-major, `rows × d0`) leaving
    /// the logits in the workspace. Dropout applies when given.
    pub fn forward<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        input: &[T],
        rows: usize,
        dropout: Option<Dropout<'_>>,
        par: Par,
    ) -> Result<()> {
        self.check_batch(params, ws, input, rows)?;
        if let Some(d) = dropout {
            if d.rates.iter().any(|p| !(0.0..1.0).contains(p)) {
                return Err(FnnError::Config(format!(
                    "dropout rates must be in [0, 1), got {:?}",
                    d.rates
                )));
            }
        }
        let last = self.n_layers() - 1;
        for l in 0..=last {
            let (d_in, d_out) = (self.sizes[l], self.sizes[l + 1]);
            let (done, todo) = ws.acts.split_at_mut(l);
            let x: &[T] = if l == 0 {
                &input[..rows * d_in]
            } else {
                &done[l - 1][..rows * d_in]
            };
            let out = &mut todo[0][..rows * d_out];
            let w = &params[self.weight_range(l)];
            matmul(
                out,
                View::rows(x, rows, d_in),
                View::rows(w, d_in, d_out),
                false,
                par,
            )?;
            let bias = &params[self.bias_range(l)];
            let act = (l < last).then(|| self.activations[l]);
            // Bias and activation while the GEMM output is in cache; the
            // activation once per chunk, not per (possibly 3-wide) row.
            par.for_rows(out, d_out, |_, chunk| {
                for row in chunk.chunks_exact_mut(d_out) {
                    row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
                }
                if let Some(a) = act {
                    a.apply(chunk);
                }
            });
            if let (Some(d), true) = (dropout, l < last) {
                let p = d.rates.get(l).copied().unwrap_or(0.0);
                if p > 0.0 {
                    if ws.masks[l].len() < rows * d_out {
                        return Err(FnnError::Shape(format!(
                            "the workspace has no dropout buffers for hidden layer {l}"
                        )));
                    }
                    let pre = &mut ws.pre_dropout[l][..rows * d_out];
                    let mask = &mut ws.masks[l][..rows * d_out];
                    pre.copy_from_slice(out);
                    let key = rng::key(d.seed, rng::DROPOUT, d.step, l as u64);
                    let keep = T::of(1.0 / (1.0 - p));
                    // `uniform(key, i) >= p` without the float conversion: the
                    // draw is its top 53 bits times 2^-53, exactly.
                    let threshold = (p * TWO_POW_53).ceil() as u64;
                    // Each draw is a function of its index alone, so rows can
                    // be drawn on any thread; at ~2 ns a draw, a few thousand
                    // are worth sharing.
                    par.for_rows_from(PARALLEL_MIN_DRAWS, mask, d_out, |first_row, block| {
                        let first = first_row * d_out;
                        for (i, m) in block.iter_mut().enumerate() {
                            *m = if rng::bits(key, (first + i) as u64) >> 11 >= threshold {
                                keep
                            } else {
                                T::zero()
                            };
                        }
                    });
                    out.iter_mut().zip(mask.iter()).for_each(|(v, &m)| *v *= m);
                }
            }
        }
        Ok(())
    }

    /// `Err` unless `params`, `ws` and `rows` rows of `input` fit this network.
    fn check_batch<T: Float>(
        &self,
        params: &[T],
        ws: &Workspace<T>,
        input: &[T],
        rows: usize,
    ) -> Result<()> {
        check_len("params", params.len(), self.n_params())?;
        if ws.sizes != self.sizes {
            return Err(FnnError::Shape(format!(
                "the workspace was made for layer sizes {:?}, not {:?}",
                ws.sizes, self.sizes
            )));
        }
        if rows > ws.capacity || input.len() < rows.saturating_mul(self.sizes[0]) {
            return Err(FnnError::Shape(format!(
                "a batch of {rows} rows does not fit the workspace or the input"
            )));
        }
        Ok(())
    }

    /// Inference forward pass (no dropout) of rows `start..start + rows` of
    /// `x`: dense rows are read in place, sparse ones densified into the
    /// workspace first.
    pub fn forward_rows<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        x: &Features<'_, T>,
        start: usize,
        rows: usize,
        par: Par,
    ) -> Result<()> {
        let d0 = self.sizes[0];
        x.check_rows(start, rows, d0)?;
        if let Some(dense) = x.dense_rows(start, rows, d0) {
            return self.forward(params, ws, dense, rows, None, par);
        }
        if rows > ws.capacity || ws.sizes != self.sizes {
            return Err(FnnError::Shape(format!(
                "{rows} rows do not fit the workspace"
            )));
        }
        let mut input = std::mem::take(&mut ws.input);
        if input.len() < rows * d0 {
            input = zeroed(ws.capacity, d0)?;
        }
        for (r, out) in input.chunks_exact_mut(d0).take(rows).enumerate() {
            x.write_row(start + r, out);
        }
        let result = self.forward(params, ws, &input, rows, None, par);
        ws.input = input;
        result
    }

    /// Backward pass after `forward` (with the same dropout): fills `ws.grad`
    /// with the gradient of the batch objective (spec section 4) and returns
    /// the objective. Targets and weights come from `ws.targets`/`ws.weights`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        input: &[T],
        rows: usize,
        alpha: f64,
        l1: f64,
        dropout_active: bool,
        par: Par,
    ) -> Result<f64> {
        self.check_batch(params, ws, input, rows)?;
        if !ws.can_train(self) {
            return Err(FnnError::Shape(
                "the workspace was made for inference: it has no gradient buffers".into(),
            ));
        }
        penalty::validate(alpha, l1)?;
        let last = self.n_layers() - 1;
        let k = self.n_outputs();
        let weights = &ws.weights[..rows];
        let weight_sum = ws.weight_sum(rows)?;
        let data_loss = self.loss.rows(
            &ws.acts[last][..rows * k],
            &ws.targets[..rows * k],
            weights,
            weight_sum,
            &mut ws.deltas[last][..rows * k],
        );
        let penalty = Penalty::new(alpha, l1, weight_sum);
        let mut weight_sums = WeightSums::default();
        for l in (0..=last).rev() {
            let (d_in, d_out) = (self.sizes[l], self.sizes[l + 1]);
            let (below, here) = ws.deltas.split_at_mut(l);
            let delta = &here[0][..rows * d_out];
            let x: &[T] = if l == 0 {
                &input[..rows * d_in]
            } else {
                &ws.acts[l - 1][..rows * d_in]
            };
            let w_range = self.weight_range(l);
            let grad_w = &mut ws.grad[w_range.clone()];
            matmul(
                grad_w,
                View::transposed(x, rows, d_in),
                View::rows(delta, rows, d_out),
                false,
                par,
            )?;
            if let Some(penalty) = penalty {
                // While the layer's gradient is still in cache.
                let w = &params[w_range.clone()];
                weight_sums = weight_sums + penalty.add_gradient(w, grad_w, par);
            }
            let grad_b = &mut ws.grad[self.bias_range(l)];
            grad_b.fill(T::zero());
            for row in delta.chunks_exact(d_out) {
                grad_b.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
            }
            if l > 0 {
                let h = l - 1;
                let prev = &mut below[h][..rows * d_in];
                let w = &params[w_range];
                matmul(
                    prev,
                    View::rows(delta, rows, d_out),
                    View::transposed(w, d_in, d_out),
                    false,
                    par,
                )?;
                let act = self.activations[h];
                let with_mask = dropout_active && !ws.masks[h].is_empty();
                let a: &[T] = if with_mask {
                    &ws.pre_dropout[h]
                } else {
                    &ws.acts[h]
                };
                act.multiply_derivative(&a[..rows * d_in], prev);
                if with_mask {
                    prev.iter_mut()
                        .zip(&ws.masks[h])
                        .for_each(|(d, &m)| *d *= m);
                }
            }
        }
        let penalty = penalty.map_or(0.0, |p| p.value(weight_sums));
        Ok((data_loss + penalty) / weight_sum.f64())
    }
}
