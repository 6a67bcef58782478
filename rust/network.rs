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
use crate::first_layer_gradient;
use crate::float::Float;
use crate::linalg::{column_sums, matmul, matmul_then, View};
use crate::loss::Loss;
use crate::parallel::Par;
use crate::penalty::{self, Penalty, WeightSums};
use crate::rng;
use crate::small_matmul::Epilogue;
use crate::workspace::{weight_sum, zeroed, Workspace};

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

    /// The hidden layers' activations, from the first.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
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

/// The rows a backward pass reads: inputs, targets and sample weights,
/// row-major, `rows` of each.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, T> {
    /// `rows × features` inputs.
    pub x: &'a [T],
    /// `rows × outputs` targets.
    pub y: &'a [T],
    /// One sample weight per row.
    pub weights: &'a [T],
    /// How many rows.
    pub rows: usize,
}

impl Network {
    /// Forward pass of `rows` rows of `input` (row-major, `rows × d0`) leaving
    /// the logits in the workspace. With `masked`, each hidden layer with
    /// dropout buffers is multiplied by the masks [`crate::dropout::Dropout::draw_masks`]
    /// drew into the workspace, and kept unmasked for the backward pass.
    pub fn forward<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        input: &[T],
        rows: usize,
        masked: bool,
        par: Par,
    ) -> Result<()> {
        self.check_batch(params, ws, input, rows)?;
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
            let bias = &params[self.bias_range(l)];
            let (x, w) = (View::rows(x, rows, d_in), View::rows(w, d_in, d_out));
            match (l < last).then(|| self.activations[l]) {
                // The product finishes the bias and ReLU itself.
                act @ (None | Some(Activation::Identity | Activation::Relu)) => {
                    let relu = act == Some(Activation::Relu);
                    let epilogue = Epilogue {
                        bias: Some(bias),
                        relu,
                        ..Epilogue::NONE
                    };
                    matmul_then(out, x, w, epilogue, par)?;
                }
                // Bias and activation while the product's output is in
                // cache; the activation once per chunk, not per row.
                Some(act) => {
                    matmul(out, x, w, false, par)?;
                    par.for_rows(out, d_out, |_, chunk| {
                        for row in chunk.chunks_exact_mut(d_out) {
                            row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
                        }
                        act.apply(chunk);
                    });
                }
            }
            if masked && l < last && !ws.masks[l].is_empty() {
                let pre = &mut ws.pre_dropout[l][..rows * d_out];
                let mask = &ws.masks[l][..rows * d_out];
                pre.copy_from_slice(out);
                out.iter_mut().zip(mask).for_each(|(v, &m)| *v *= m);
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
            return self.forward(params, ws, dense, rows, false, par);
        }
        if rows > ws.capacity || ws.sizes != self.sizes {
            return Err(FnnError::Shape(format!(
                "{rows} rows do not fit the workspace"
            )));
        }
        // Taken out so that `forward` can borrow the rest of the workspace.
        let mut input = std::mem::take(&mut ws.dense_input);
        if input.len() < rows * d0 {
            input = zeroed(ws.capacity, d0)?;
        }
        for (r, out) in input.chunks_exact_mut(d0).take(rows).enumerate() {
            x.write_row(start + r, out);
        }
        let result = self.forward(params, ws, &input, rows, false, par);
        ws.dense_input = input;
        result
    }

    /// Backward pass after `forward` (with the same dropout): fills `ws.grad`
    /// with the gradient of the objective of spec section 4 on `batch`, with
    /// the penalty `alpha`, `l1`, and returns the objective.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        batch: Rows<'_, T>,
        alpha: f64,
        l1: f64,
        dropout_active: bool,
        par: Par,
    ) -> Result<f64> {
        self.check_rows(params, ws, batch)?;
        penalty::validate(alpha, l1)?;
        let s = weight_sum(&batch.weights[..batch.rows])?;
        let penalty = Penalty::new(alpha, l1, s);
        let (data_loss, sums) =
            self.backprop(params, ws, batch, s, penalty, dropout_active, par)?;
        let penalty = penalty.map_or(0.0, |p| p.value(sums));
        Ok((data_loss + penalty) / s.f64())
    }

    /// `Err` unless `batch` and `ws` fit this network and `ws` can train.
    pub(crate) fn check_rows<T: Float>(
        &self,
        params: &[T],
        ws: &Workspace<T>,
        batch: Rows<'_, T>,
    ) -> Result<()> {
        self.check_batch(params, ws, batch.x, batch.rows)?;
        if !ws.can_train(self) {
            return Err(FnnError::Shape(
                "the workspace was made for inference: it has no gradient buffers".into(),
            ));
        }
        let k = self.n_outputs();
        if batch.y.len() < batch.rows.saturating_mul(k) || batch.weights.len() < batch.rows {
            return Err(FnnError::Shape(format!(
                "{} rows need {} targets and {} weights",
                batch.rows,
                batch.rows.saturating_mul(k),
                batch.rows
            )));
        }
        Ok(())
    }

    /// The shape for [`first_layer_gradient`] when layer `l`'s delta can make
    /// the first layer's gradients itself: `l` is the layer over the first,
    /// which is a ReLU layer without a dropout mask (`masks`, when
    /// `dropout_active`), and the shape suits.
    fn first_layer_from<T>(
        &self,
        l: usize,
        rows: usize,
        masks: &[Vec<T>],
        dropout_active: bool,
    ) -> Option<first_layer_gradient::Shape> {
        if l != 1 {
            return None;
        }
        let first_masked = dropout_active && masks.first().is_some_and(|m| !m.is_empty());
        let shape = first_layer_gradient::Shape {
            rows,
            features: self.sizes[0],
            hidden: self.sizes[1],
            above: *self.sizes.get(2)?,
        };
        (self.activations[0] == Activation::Relu
            && !first_masked
            && first_layer_gradient::suits(shape))
        .then_some(shape)
    }

    /// The backward pass proper, on rows already checked: `ws.grad` gets the
    /// gradient of `(Σ wᵢ ℓᵢ + penalty) / weight_sum` over `batch`'s rows,
    /// where `weight_sum` may be that of a larger batch this is a block of.
    /// Returns the unnormalised data loss `Σ wᵢ ℓᵢ` and the weight sums the
    /// penalty's value needs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backprop<T: Float>(
        &self,
        params: &[T],
        ws: &mut Workspace<T>,
        batch: Rows<'_, T>,
        weight_sum: T,
        penalty: Option<Penalty<T>>,
        dropout_active: bool,
        par: Par,
    ) -> Result<(f64, WeightSums)> {
        let rows = batch.rows;
        let last = self.n_layers() - 1;
        let k = self.n_outputs();
        let data_loss = self.loss.rows(
            &ws.acts[last][..rows * k],
            &batch.y[..rows * k],
            &batch.weights[..rows],
            weight_sum,
            &mut ws.deltas[last][..rows * k],
        );
        let mut weight_sums = WeightSums::default();
        // Whether the first layer's gradients were made with the delta above
        // it, its own delta never stored.
        let mut first_layer_done = false;
        for l in (0..=last).rev() {
            let (d_in, d_out) = (self.sizes[l], self.sizes[l + 1]);
            let (below, here) = ws.deltas.split_at_mut(l);
            let delta = &here[0][..rows * d_out];
            let x: &[T] = if l == 0 {
                &batch.x[..rows * d_in]
            } else {
                &ws.acts[l - 1][..rows * d_in]
            };
            let w_range = self.weight_range(l);
            let grad_w = &mut ws.grad[w_range.clone()];
            if !first_layer_done {
                matmul(
                    grad_w,
                    View::transposed(x, rows, d_in),
                    View::rows(delta, rows, d_out),
                    false,
                    par,
                )?;
            }
            if let Some(penalty) = penalty {
                // While the layer's gradient is still in cache.
                let w = &params[w_range.clone()];
                weight_sums = weight_sums + penalty.add_gradient(w, grad_w, par);
            }
            if !first_layer_done {
                column_sums(&mut ws.grad[self.bias_range(l)], delta, d_out);
            }
            if let Some(shape) = self.first_layer_from(l, rows, &ws.masks, dropout_active) {
                // The first layer's delta would only feed its two gradients:
                // make them from this layer's delta instead (same bits). Its
                // biases follow its weights in the buffer.
                let (w0, b0) = (self.weight_range(0), self.bias_range(0));
                let (grad_w0, rest) = ws.grad[w0.start..].split_at_mut(w0.len());
                let grad_b0 = &mut rest[..b0.len()];
                first_layer_gradient::first_layer_gradient(
                    grad_w0,
                    grad_b0,
                    &batch.x[..rows * self.sizes[0]],
                    delta,
                    &params[w_range],
                    &ws.acts[0][..rows * d_in],
                    shape,
                );
                first_layer_done = true;
                continue;
            }
            if l > 0 {
                let h = l - 1;
                let prev = &mut below[h][..rows * d_in];
                let w = &params[w_range];
                let act = self.activations[h];
                let with_mask = dropout_active && !ws.masks[h].is_empty();
                let a: &[T] = if with_mask {
                    &ws.pre_dropout[h]
                } else {
                    &ws.acts[h]
                };
                let a = &a[..rows * d_in];
                let (delta, wt) = (
                    View::rows(delta, rows, d_out),
                    View::transposed(w, d_in, d_out),
                );
                if act == Activation::Relu {
                    // The product multiplies in ReLU's derivative itself.
                    let epilogue = Epilogue {
                        relu_gate: Some(a),
                        ..Epilogue::NONE
                    };
                    matmul_then(prev, delta, wt, epilogue, par)?;
                } else {
                    matmul(prev, delta, wt, false, par)?;
                    act.multiply_derivative(a, prev);
                }
                if with_mask {
                    prev.iter_mut()
                        .zip(&ws.masks[h])
                        .for_each(|(d, &m)| *d *= m);
                }
            }
        }
        Ok((data_loss, weight_sums))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dropout::Dropout;

    /// Central differences of `backward`'s objective against its gradient, for
    /// every parameter of a 3 → 5 → 4 → 3 network, with both penalties and
    /// dropout (whose masks are fixed by the seed, so the objective stays a
    /// smooth function of the parameters).
    fn check_gradient(hidden: [Activation; 2], loss: Loss) {
        let net = Network::new(vec![3, 5, 4, 3], hidden.to_vec(), loss).unwrap();
        let mut params = vec![0.0f64; net.n_params()];
        net.init_params(5, &mut params).unwrap();
        let rows = 6;
        let x: Vec<f64> = (0..rows * 3).map(|i| (i as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..rows * 3)
            .map(|i| if i % 3 == (i / 3) % 3 { 1.0 } else { 0.0 })
            .collect();
        let w: Vec<f64> = (0..rows).map(|r| 0.5 + r as f64 * 0.25).collect();
        let batch = Rows {
            x: &x,
            y: &y,
            weights: &w,
            rows,
        };
        let rates = [0.25, 0.0];
        let dropout = Dropout {
            rates: &rates,
            seed: 9,
            step: 2,
            first_row: 0,
        };
        let (alpha, l1) = (0.3, 0.05);
        let mut ws = Workspace::<f64>::new(&net, rows, &rates).unwrap();
        let objective = |p: &[f64], ws: &mut Workspace<f64>| {
            dropout.draw_masks(ws, rows, Par::SERIAL).unwrap();
            net.forward(p, ws, &x, rows, true, Par::SERIAL).unwrap();
            net.backward(p, ws, batch, alpha, l1, true, Par::SERIAL)
                .unwrap()
        };
        objective(&params, &mut ws);
        let grad = ws.grad.clone();
        let h = 1e-6;
        for i in 0..params.len() {
            let mut p = params.clone();
            p[i] += h;
            let up = objective(&p, &mut ws);
            p[i] -= 2.0 * h;
            let down = objective(&p, &mut ws);
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() <= 1e-6 * (1.0 + numeric.abs()),
                "{hidden:?} {loss:?}, parameter {i}: {numeric} by differences, {} by backward",
                grad[i]
            );
        }
    }

    #[test]
    fn backward_matches_finite_differences_for_every_activation() {
        let slope = Activation::LeakyRelu { slope: 0.1 };
        for pair in [
            [Activation::Identity, Activation::Sigmoid],
            [Activation::Tanh, slope],
            [Activation::Relu, Activation::Tanh],
        ] {
            check_gradient(pair, Loss::SoftmaxLogLoss);
        }
    }

    #[test]
    fn a_network_without_hidden_layers_trains_with_dropout_active() {
        // No hidden layer, so no masks: the first-layer check must not index them.
        let net = Network::new(vec![3, 2], vec![], Loss::SoftmaxLogLoss).unwrap();
        let mut params = vec![0.0f64; net.n_params()];
        net.init_params(0, &mut params).unwrap();
        let mut ws = Workspace::<f64>::new(&net, 2, &[]).unwrap();
        let x = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75];
        let (y, weights) = ([1.0, 0.0, 0.0, 1.0], [1.0, 1.0]);
        net.forward(&params, &mut ws, &x, 2, true, Par::SERIAL)
            .unwrap();
        let batch = Rows {
            x: &x,
            y: &y,
            weights: &weights,
            rows: 2,
        };
        let objective = net
            .backward(&params, &mut ws, batch, 0.0, 0.0, true, Par::SERIAL)
            .unwrap();
        assert!(objective.is_finite() && objective > 0.0, "{objective}");
        assert!(ws.grad.iter().any(|&g| g != 0.0));
    }

    #[test]
    fn backward_matches_finite_differences_for_every_loss() {
        let hidden = [Activation::Tanh, Activation::Sigmoid];
        for loss in [
            Loss::SquaredError,
            Loss::Huber { delta: 0.5 },
            Loss::SigmoidLogLoss,
            Loss::Hinge,
            Loss::SquaredHinge,
        ] {
            check_gradient(hidden, loss);
        }
    }
}
