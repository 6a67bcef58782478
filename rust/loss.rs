//! Losses computed from the logits, with their gradients (spec section 4).
//!
//! Log losses use log-sum-exp and softplus, so no `log(0)` can occur however
//! confident the network is.

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::simd::{dispatch, Kernel};
use crate::vmath::{exp_in_place, ln_1p_in_place, ln_in_place};

/// The output layer's function, applied to logits for predictions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Logits as they are (regression, hinge decision values).
    Identity,
    /// Independent probabilities per output (binary, multi-label).
    Sigmoid,
    /// One distribution over the outputs (multi-class).
    Softmax,
    /// e^z per output: the mean of a Poisson target under a log link.
    Exp,
}

impl Output {
    /// Parses `"identity"`, `"sigmoid"` (or `"logistic"`) or `"softmax"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "identity" => Ok(Output::Identity),
            "sigmoid" | "logistic" => Ok(Output::Sigmoid),
            "softmax" => Ok(Output::Softmax),
            "exp" => Ok(Output::Exp),
            other => Err(FnnError::Config(format!(
                "unknown output {other:?}; expected identity, sigmoid, softmax or exp"
            ))),
        }
    }

    /// Turns one row of logits into predictions in place.
    pub fn apply_row<T: Float>(self, z: &mut [T]) {
        match self {
            Output::Identity => {}
            Output::Sigmoid => z
                .iter_mut()
                .for_each(|v| *v = crate::activation::sigmoid(*v)),
            Output::Softmax => {
                let max = z.iter().copied().fold(T::neg_infinity(), T::max);
                z.iter_mut().for_each(|v| *v -= max);
                exp_in_place(z);
                let sum: T = z.iter().copied().sum();
                z.iter_mut().for_each(|v| *v = *v / sum);
            }
            Output::Exp => z.iter_mut().for_each(|v| *v = v.exp()),
        }
    }
}

/// A per-sample loss of the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// ½ Σ (z − y)².
    SquaredError,
    /// Σ huber_δ(z − y).
    Huber {
        /// The residual at which the loss turns from quadratic to linear.
        delta: f64,
    },
    /// Cross-entropy of softmax(z) against y (one-hot or soft labels).
    SoftmaxLogLoss,
    /// Binary cross-entropy of sigmoid(z) against y, summed over outputs.
    SigmoidLogLoss,
    /// Binary hinge (1 output, y ∈ {0,1}) or Weston–Watkins multi-class hinge.
    Hinge,
    /// The squares of the hinge terms.
    SquaredHinge,
    /// Half the Poisson deviance of e^z against y ≥ 0, summed over outputs.
    Poisson,
}

impl Loss {
    /// Parses a loss name, pairing `"log_loss"` with its output function.
    pub fn parse(name: &str, output: Output, huber_delta: f64) -> Result<Self> {
        let loss = match (name, output) {
            ("log_loss", Output::Softmax) => Loss::SoftmaxLogLoss,
            ("log_loss", Output::Sigmoid) => Loss::SigmoidLogLoss,
            ("squared_error", Output::Identity) => Loss::SquaredError,
            ("huber", Output::Identity) => {
                if !(huber_delta > 0.0 && huber_delta.is_finite()) {
                    return Err(FnnError::Config(format!(
                        "huber_delta must be a finite number > 0, got {huber_delta}"
                    )));
                }
                Loss::Huber { delta: huber_delta }
            }
            ("hinge", Output::Identity) => Loss::Hinge,
            ("squared_hinge", Output::Identity) => Loss::SquaredHinge,
            ("poisson", Output::Exp) => Loss::Poisson,
            (n, o) => {
                return Err(FnnError::Config(format!(
                    "loss {n:?} does not go with output {o:?} (log_loss needs sigmoid or \
                     softmax, poisson exp, the others identity)"
                )))
            }
        };
        Ok(loss)
    }

    /// The output function predictions use with this loss.
    pub fn output(self) -> Output {
        match self {
            Loss::SoftmaxLogLoss => Output::Softmax,
            Loss::SigmoidLogLoss => Output::Sigmoid,
            Loss::Poisson => Output::Exp,
            _ => Output::Identity,
        }
    }

    /// [`Loss::row`] over a batch: rows of `z` and `y` (`weights.len()` rows),
    /// each row's gradient times `w / weight_sum` into `grad`; returns
    /// `Σ w·ℓ`. Softmax and sigmoid rows share their exponentials' and
    /// logarithms' calls.
    pub fn rows<T: Float>(
        self,
        z: &[T],
        y: &[T],
        weights: &[T],
        weight_sum: T,
        grad: &mut [T],
    ) -> f64 {
        if weights.is_empty() {
            return 0.0;
        }
        let k = z.len() / weights.len();
        let scale = |r: usize| weights[r] / weight_sum;
        if self == Loss::SoftmaxLogLoss && k > 0 {
            return softmax_rows(z, y, grad, k, scale, |r| weights[r].f64());
        }
        if self == Loss::SigmoidLogLoss && k > 0 {
            return sigmoid_rows(z, y, grad, k, scale, |r| weights[r].f64());
        }
        let rows = z.chunks_exact(k).zip(y.chunks_exact(k));
        let mut total = 0.0;
        for ((z, y), (&w, g)) in rows.zip(weights.iter().zip(grad.chunks_exact_mut(k))) {
            total += w.f64() * self.row(z, y, w / weight_sum, g);
        }
        total
    }

    /// The loss ℓ of one row of logits `z` against targets `y`, and its gradient
    /// times `scale` written into `grad` (which may be the caller's logits buffer
    /// copied beforehand: `z` and `grad` are separate here for clarity).
    pub fn row<T: Float>(self, z: &[T], y: &[T], scale: T, grad: &mut [T]) -> f64 {
        let k = z.len();
        match self {
            Loss::SquaredError => {
                let mut l = 0.0;
                for j in 0..k {
                    let r = z[j] - y[j];
                    l += 0.5 * r.f64() * r.f64();
                    grad[j] = scale * r;
                }
                l
            }
            Loss::Huber { delta } => {
                let d = T::of(delta);
                let mut l = 0.0;
                for j in 0..k {
                    let r = z[j] - y[j];
                    let (rf, a) = (r.f64(), r.abs().f64());
                    l += if a <= delta {
                        0.5 * rf * rf
                    } else {
                        delta * (a - 0.5 * delta)
                    };
                    grad[j] = scale * r.max(-d).min(d);
                }
                l
            }
            Loss::SoftmaxLogLoss => softmax_rows(z, y, grad, k, |_| scale, |_| 1.0),
            Loss::SigmoidLogLoss => sigmoid_rows(z, y, grad, k, |_| scale, |_| 1.0),
            Loss::Poisson => {
                // e^z − y·z + (y·ln y − y): the constant makes a perfect fit
                // cost 0, as scikit-learn reports it; summed in f64, where
                // e^z and y·ln y cancel without losing the difference.
                let mut l = 0.0;
                for j in 0..k {
                    let mu = z[j].exp();
                    let (zf, yf) = (z[j].f64(), y[j].f64());
                    let y_ln_y = if yf > 0.0 { yf * yf.ln() } else { 0.0 };
                    l += mu.f64() - yf * zf + y_ln_y - yf;
                    grad[j] = scale * (mu - y[j]);
                }
                l
            }
            Loss::Hinge | Loss::SquaredHinge => {
                let squared = self == Loss::SquaredHinge;
                if k == 1 {
                    let t = T::of(2.0) * y[0] - T::one();
                    let m = T::one() - t * z[0];
                    if m > T::zero() {
                        grad[0] = if squared {
                            -scale * T::of(2.0) * t * m
                        } else {
                            -scale * t
                        };
                        let mf = m.f64();
                        if squared {
                            mf * mf
                        } else {
                            mf
                        }
                    } else {
                        grad[0] = T::zero();
                        0.0
                    }
                } else {
                    let c = argmax(y);
                    let inv_k = T::one() / T::of(k as f64);
                    grad.iter_mut().for_each(|g| *g = T::zero());
                    let mut l = 0.0;
                    for j in 0..k {
                        if j == c {
                            continue;
                        }
                        let m = T::one() - z[c] + z[j];
                        if m > T::zero() {
                            let g = if squared { T::of(2.0) * m } else { T::one() } * inv_k * scale;
                            grad[j] += g;
                            grad[c] -= g;
                            let mf = m.f64();
                            l += if squared { mf * mf } else { mf };
                        }
                    }
                    l / k as f64
                }
            }
        }
    }
}

/// Index of the first maximum.
pub fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Rows the batched softmax loss takes at a time (its per-row sums live on
/// the stack).
const SOFTMAX_CHUNK: usize = 64;

/// The softmax log loss of the rows of `z` against `y` (`k` outputs each):
/// row `r`'s gradient times `scale(r)` into `grad`, and `Σ weight(r)·ℓ_r`
/// returned. The exponentials of a chunk of rows take one [`exp_in_place`]
/// call and their rows' logarithms one [`ln_in_place`]; the probabilities
/// are `e_j / Σe`, as the NumPy engine computes them.
fn softmax_rows<T: Float>(
    z: &[T],
    y: &[T],
    grad: &mut [T],
    k: usize,
    scale: impl Fn(usize) -> T,
    weight: impl Fn(usize) -> f64,
) -> f64 {
    dispatch(SoftmaxRows {
        z,
        y,
        grad,
        k,
        scale,
        weight,
    })
}

/// [`softmax_rows`]'s arguments, as a kernel compiled for AVX2 too: the
/// per-element loops then run 8 floats wide (the per-row maxima, sums and
/// the `f64` loss stay in their order, so the bits do not change).
struct SoftmaxRows<'a, T, S, W> {
    z: &'a [T],
    y: &'a [T],
    grad: &'a mut [T],
    k: usize,
    scale: S,
    weight: W,
}

impl<T: Float, S: Fn(usize) -> T, W: Fn(usize) -> f64> Kernel for SoftmaxRows<'_, T, S, W> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        // The output counts of common problems get a version each: with
        // `k` a constant, the per-row loops are unrolled instead of looping
        // a few times with their tails. Two outputs get none: a binary
        // `FNNClassifier` has one sigmoid output, not a softmax of two.
        match self.k {
            3 => self.rows_of::<3>(),
            4 => self.rows_of::<4>(),
            5 => self.rows_of::<5>(),
            10 => self.rows_of::<10>(),
            _ => self.rows_of::<0>(),
        }
    }
}

impl<T: Float, S: Fn(usize) -> T, W: Fn(usize) -> f64> SoftmaxRows<'_, T, S, W> {
    /// The rows, `K` outputs each (`K == 0`: `self.k`, any count).
    #[inline(always)]
    fn rows_of<const K: usize>(self) -> f64 {
        let SoftmaxRows {
            z,
            y,
            grad,
            k,
            scale,
            weight,
        } = self;
        debug_assert!(K == 0 || K == k);
        let k = if K == 0 { k } else { K };
        let mut total = 0.0;
        let chunks = z
            .chunks(SOFTMAX_CHUNK * k)
            .zip(y.chunks(SOFTMAX_CHUNK * k))
            .zip(grad.chunks_mut(SOFTMAX_CHUNK * k));
        for (c, ((z, y), grad)) in chunks.enumerate() {
            let n = z.len() / k;
            let (mut maxes, mut sums, mut logs) = (
                [T::zero(); SOFTMAX_CHUNK],
                [T::zero(); SOFTMAX_CHUNK],
                [T::zero(); SOFTMAX_CHUNK],
            );
            for ((zr, g), max) in z
                .chunks_exact(k)
                .zip(grad.chunks_exact_mut(k))
                .zip(&mut maxes)
            {
                *max = zr.iter().copied().fold(T::neg_infinity(), T::max);
                g.iter_mut().zip(zr).for_each(|(g, &v)| *g = v - *max);
            }
            exp_in_place(grad);
            for (g, (sum, log)) in grad.chunks_exact(k).zip(sums.iter_mut().zip(&mut logs)) {
                *sum = g.iter().copied().sum();
                *log = *sum;
            }
            ln_in_place(&mut logs[..n]);
            let rows = z
                .chunks_exact(k)
                .zip(y.chunks_exact(k))
                .zip(grad.chunks_exact_mut(k));
            for (r, ((zr, yr), g)) in rows.enumerate() {
                let row = c * SOFTMAX_CHUNK + r;
                let (sum_exp, lse) = (sums[r], maxes[r] + logs[r]);
                let y_sum: T = yr.iter().copied().sum();
                let s = scale(row);
                // The loss's f64 sum is a chain; the gradient, apart from
                // it, vectorises.
                let mut l = 0.0;
                for (&yj, &zj) in yr.iter().zip(zr) {
                    l += (yj * (lse - zj)).f64();
                }
                for (g, &yj) in g.iter_mut().zip(yr) {
                    *g = s * (*g / sum_exp * y_sum - yj);
                }
                total += weight(row) * l;
            }
        }
        total
    }
}

/// Values the sigmoid loss takes `e^−|z|` and `ln(1 + e)` of at a time:
/// small, since each call (a row of a validation set's loss) zeroes its
/// buffer on the stack, and one logit out of the polynomials' range sends
/// only its chunk through libm.
const SIGMOID_CHUNK: usize = 64;

/// The sigmoid log loss of the rows of `z` against `y` (`k` outputs each),
/// as [`softmax_rows`] returns and writes it. Each logit takes one
/// exponential, `e = e^−|z|`, shared by `softplus(z) = max(z, 0) + ln(1 + e)`
/// and `σ(z)` (`1/(1 + e)`, or `e/(1 + e)` below zero, the two forms of
/// [`crate::activation::sigmoid`]): each [`SIGMOID_CHUNK`] values take one
/// [`exp_in_place`] and one [`ln_1p_in_place`] call.
fn sigmoid_rows<T: Float>(
    z: &[T],
    y: &[T],
    grad: &mut [T],
    k: usize,
    scale: impl Fn(usize) -> T,
    weight: impl Fn(usize) -> f64,
) -> f64 {
    let rows = z.len() / k;
    if rows == 0 {
        return 0.0;
    }
    let grad = &mut grad[..z.len()];
    let mut logs = [T::zero(); SIGMOID_CHUNK];
    let (mut total, mut l, mut s) = (0.0, 0.0, scale(0));
    let chunks = z
        .chunks(SIGMOID_CHUNK)
        .zip(y.chunks(SIGMOID_CHUNK))
        .zip(grad.chunks_mut(SIGMOID_CHUNK));
    let (mut row, mut col) = (0, 0);
    for ((z, y), grad) in chunks {
        grad.iter_mut().zip(z).for_each(|(g, &v)| *g = -v.abs());
        exp_in_place(grad);
        let logs = &mut logs[..z.len()];
        logs.copy_from_slice(grad);
        ln_1p_in_place(logs);
        for (((&zj, &yj), g), &log) in z.iter().zip(y).zip(grad.iter_mut()).zip(&*logs) {
            let e = *g;
            let softplus = zj.max(T::zero()) + log;
            l += (softplus - yj * zj).f64();
            let sigma = if zj >= T::zero() {
                T::one() / (T::one() + e)
            } else {
                e / (T::one() + e)
            };
            *g = s * (sigma - yj);
            col += 1;
            if col == k {
                total += weight(row) * l;
                (row, col, l) = (row + 1, 0, 0.0);
                if row < rows {
                    s = scale(row);
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss_of(loss: Loss, z: &[f64], y: &[f64]) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; z.len()];
        let l = loss.row(z, y, 1.0, &mut g);
        (l, g)
    }

    #[test]
    fn softmax_log_loss_matches_hand_computation() {
        // p = [1/4, 3/4]; the target is class 1: ℓ = −log(3/4).
        let (l, g) = loss_of(Loss::SoftmaxLogLoss, &[0.0, 3f64.ln()], &[0.0, 1.0]);
        assert!((l - (4.0f64 / 3.0).ln()).abs() < 1e-15);
        assert!((g[0] - 0.25).abs() < 1e-15 && (g[1] + 0.25).abs() < 1e-15);
    }

    /// The sigmoid loss by its formula, element by element through libm.
    fn sigmoid_by_hand(z: &[f64], y: &[f64], w: &[f64], s: f64, k: usize) -> (f64, Vec<f64>) {
        let mut grad = vec![0.0; z.len()];
        let mut total = 0.0;
        for (r, &wr) in w.iter().enumerate() {
            let mut l = 0.0;
            for j in r * k..(r + 1) * k {
                l += z[j].max(0.0) + (-z[j].abs()).exp().ln_1p() - y[j] * z[j];
                grad[j] = wr / s * (crate::activation::sigmoid(z[j]) - y[j]);
            }
            total += wr * l;
        }
        (total, grad)
    }

    #[test]
    fn batched_sigmoid_loss_is_its_formula_in_every_row() {
        // 300 rows of 3 outputs: the chunks of 64 values end inside rows.
        // Logits of both signs out to ±40, and, in the second batch, one
        // beyond the polynomial's range: libm for its chunk, whose gradient
        // then has the bits of the formula through libm.
        let (rows, k) = (300, 3);
        let mut z: Vec<f64> = (0..rows * k)
            .map(|i| ((i * 7919) % 8001) as f64 / 100.0 - 40.0)
            .collect();
        let y: Vec<f64> = (0..rows * k)
            .map(|i| ((i * 13) % 3 == 0) as u8 as f64)
            .collect();
        let w: Vec<f64> = (0..rows).map(|r| 0.5 + (r % 4) as f64).collect();
        let s: f64 = w.iter().sum();
        for extreme in [false, true] {
            if extreme {
                z[401] = -750.0;
            }
            let (want, want_grad) = sigmoid_by_hand(&z, &y, &w, s, k);
            let mut grad = vec![0.0; rows * k];
            let got = Loss::SigmoidLogLoss.rows(&z, &y, &w, s, &mut grad);
            assert!((got - want).abs() <= 1e-14 * want.abs(), "{got} vs {want}");
            for (g, h) in grad.iter().zip(&want_grad) {
                assert!((g - h).abs() <= 4.0 * f64::EPSILON * h.abs(), "{g} vs {h}");
            }
            if extreme {
                let chunk =
                    401 / SIGMOID_CHUNK * SIGMOID_CHUNK..(401 / SIGMOID_CHUNK + 1) * SIGMOID_CHUNK;
                assert_eq!(grad[chunk.clone()], want_grad[chunk]);
            }
            // One row through `Loss::row`, as a validation set's loss takes it.
            let r = if extreme { 7 } else { 0 };
            let (zr, yr) = (&z[r * k..(r + 1) * k], &y[r * k..(r + 1) * k]);
            let l = Loss::SigmoidLogLoss.row(zr, yr, 1.0, &mut [0.0; 3]);
            let expect = sigmoid_by_hand(zr, yr, &[1.0], 1.0, k).0;
            assert!((l - expect).abs() <= 1e-15 * expect.abs().max(1.0));
        }
    }

    #[test]
    fn log_losses_stay_finite_for_extreme_logits() {
        let (l, _) = loss_of(Loss::SoftmaxLogLoss, &[-1e4, 1e4], &[1.0, 0.0]);
        assert_eq!(l, 2e4);
        let (l, g) = loss_of(Loss::SigmoidLogLoss, &[-800.0], &[1.0]);
        assert_eq!((l, g[0]), (800.0, -1.0));
    }

    #[test]
    fn squared_error_and_huber_by_hand() {
        let (l, g) = loss_of(Loss::SquaredError, &[3.0, 1.0], &[1.0, 1.0]);
        assert_eq!((l, g), (2.0, vec![2.0, 0.0]));
        let (l, g) = loss_of(Loss::Huber { delta: 1.0 }, &[3.0, 1.5], &[1.0, 1.0]);
        assert_eq!(l, 1.0 * (2.0 - 0.5) + 0.5 * 0.25);
        assert_eq!(g, vec![1.0, 0.5]);
    }

    #[test]
    fn binary_and_multiclass_hinge_by_hand() {
        // y = 0 → t = −1; z = 0.25: margin 1.25.
        let (l, g) = loss_of(Loss::Hinge, &[0.25], &[0.0]);
        assert_eq!((l, g[0]), (1.25, 1.0));
        let (l, g) = loss_of(Loss::SquaredHinge, &[0.25], &[0.0]);
        assert_eq!((l, g[0]), (1.5625, 2.5));
        // Class 0 with logits [2, 1.5, -3]: only j = 1 is active (margin 0.5).
        let (l, g) = loss_of(Loss::Hinge, &[2.0, 1.5, -3.0], &[1.0, 0.0, 0.0]);
        assert!((l - 0.5 / 3.0).abs() < 1e-15);
        assert_eq!(g, vec![-1.0 / 3.0, 1.0 / 3.0, 0.0]);
    }

    #[test]
    fn poisson_is_half_the_deviance_by_hand() {
        // y = 2, z = ln 3: e^z − y·z + y·ln y − y = 3 − 2 ln 3 + 2 ln 2 − 2.
        let (l, g) = loss_of(Loss::Poisson, &[3f64.ln()], &[2.0]);
        assert!((l - (1.0 - 2.0 * 3f64.ln() + 2.0 * 2f64.ln())).abs() < 1e-15);
        assert!((g[0] - 1.0).abs() < 1e-15);
        // A perfect fit costs nothing; y = 0 leaves e^z.
        let (l, _) = loss_of(Loss::Poisson, &[5f64.ln()], &[5.0]);
        assert!(l.abs() < 1e-14, "{l}");
        assert_eq!(
            loss_of(Loss::Poisson, &[0.0, 1.0], &[0.0, 0.0]).0,
            1.0 + 1f64.exp()
        );
    }

    #[test]
    fn poisson_gradient_matches_finite_differences() {
        let (z, y) = ([0.3, -1.2, 2.0], [1.0, 0.0, 4.5]);
        let (_, g) = loss_of(Loss::Poisson, &z, &y);
        for j in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (z, z);
            up[j] += h;
            down[j] -= h;
            let numeric = (loss_of(Loss::Poisson, &up, &y).0 - loss_of(Loss::Poisson, &down, &y).0)
                / (2.0 * h);
            assert!((g[j] - numeric).abs() < 1e-7, "{j}: {} vs {numeric}", g[j]);
        }
    }

    #[test]
    fn exp_output_gives_the_poisson_mean() {
        let mut z = [0.0f64, 2f64.ln()];
        Output::Exp.apply_row(&mut z);
        assert_eq!(z, [1.0, 2.0]);
        assert_eq!(Loss::Poisson.output(), Output::Exp);
    }

    #[test]
    fn log_loss_with_identity_output_is_rejected() {
        assert!(Loss::parse("poisson", Output::Identity, 1.0).is_err());
        assert!(Loss::parse("squared_error", Output::Exp, 1.0).is_err());
        assert!(Loss::parse("log_loss", Output::Identity, 1.0).is_err());
        assert!(Loss::parse("huber", Output::Identity, 0.0).is_err());
    }

    /// `rows` rows of `k` logits, soft targets and sample weights, varied.
    fn batch(rows: usize, k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let z = (0..rows * k)
            .map(|i| ((i * 7919 % 200) as f64 - 100.0) / 9.0)
            .collect();
        let y = (0..rows * k)
            .map(|i| ((i * 104_729 % 7) as f64) / 7.0)
            .collect();
        let w = (0..rows).map(|r| 0.25 + (r % 5) as f64).collect();
        (z, y, w)
    }

    /// `row` one row at a time, as `rows` must add up.
    fn row_by_row<T: Float>(loss: Loss, z: &[T], y: &[T], w: &[T], sum: T) -> (f64, Vec<T>) {
        let k = z.len() / w.len();
        let mut g = vec![T::zero(); z.len()];
        let mut total = 0.0;
        for (r, gr) in g.chunks_exact_mut(k).enumerate() {
            let (zr, yr) = (&z[r * k..(r + 1) * k], &y[r * k..(r + 1) * k]);
            total += w[r].f64() * loss.row(zr, yr, w[r] / sum, gr);
        }
        (total, g)
    }

    #[test]
    fn rows_in_f64_are_row_by_row_exactly() {
        // 150 rows: two full chunks of the batched softmax and a short one.
        let losses = [
            Loss::SoftmaxLogLoss,
            Loss::SigmoidLogLoss,
            Loss::SquaredError,
            Loss::Huber { delta: 1.0 },
            Loss::Hinge,
            Loss::SquaredHinge,
            Loss::Poisson,
        ];
        for loss in losses {
            for k in [1, 3, 10] {
                let (z, y, w) = batch(150, k);
                let sum: f64 = w.iter().sum();
                let mut g = vec![0.0; z.len()];
                let total = loss.rows(&z, &y, &w, sum, &mut g);
                assert_eq!(
                    (total, g),
                    row_by_row(loss, &z, &y, &w, sum),
                    "{loss:?}, k = {k}"
                );
            }
        }
    }

    /// The batched softmax through the version for `K` outputs (`K == 0`:
    /// the one for any count), without the dispatch to AVX2: its loss and
    /// gradient as bits.
    fn softmax_bits<T: Float, const K: usize>(z: &[T], y: &[T], w: &[T]) -> (u64, Vec<u64>) {
        let sum = w.iter().fold(T::zero(), |a, &b| a + b);
        let mut grad = vec![T::zero(); z.len()];
        let total = SoftmaxRows {
            z,
            y,
            grad: &mut grad,
            k: z.len() / w.len(),
            scale: |r: usize| w[r] / sum,
            weight: |r: usize| w[r].f64(),
        }
        .rows_of::<K>();
        (
            total.to_bits(),
            grad.iter().map(|g| g.f64().to_bits()).collect(),
        )
    }

    /// Every route to the softmax loss of `k` outputs gives the bits of the
    /// general version: `Loss::rows` (dispatched, AVX2 where the CPU has
    /// it) and the version for `k`, called directly.
    fn softmax_routes_agree<T: Float>(k: usize) {
        // 70 rows: a full chunk and a short one.
        let (z, y, w) = batch(70, k);
        let cast = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect::<Vec<T>>();
        let (z, y, w) = (cast(&z), cast(&y), cast(&w));
        let general = softmax_bits::<T, 0>(&z, &y, &w);
        let sum = w.iter().fold(T::zero(), |a, &b| a + b);
        let mut g = vec![T::zero(); z.len()];
        let total = Loss::SoftmaxLogLoss.rows(&z, &y, &w, sum, &mut g);
        let dispatched = (
            total.to_bits(),
            g.iter().map(|g| g.f64().to_bits()).collect(),
        );
        assert_eq!(dispatched, general, "k = {k}, through Loss::rows");
        let fixed = match k {
            3 => softmax_bits::<T, 3>(&z, &y, &w),
            4 => softmax_bits::<T, 4>(&z, &y, &w),
            5 => softmax_bits::<T, 5>(&z, &y, &w),
            10 => softmax_bits::<T, 10>(&z, &y, &w),
            _ => return,
        };
        assert_eq!(fixed, general, "k = {k}, its own version");
    }

    #[test]
    fn softmax_versions_for_fixed_output_counts_give_the_same_bits() {
        // Every k with a version of its own, and its neighbours, which take
        // the general one.
        for k in 1..=12 {
            softmax_routes_agree::<f64>(k);
            softmax_routes_agree::<f32>(k);
        }
    }

    #[test]
    fn softmax_rows_in_f32_agree_with_row_by_row_to_rounding() {
        let (z, y, w) = batch(150, 10);
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (z, y, w) = (narrow(&z), narrow(&y), narrow(&w));
        let sum: f32 = w.iter().sum();
        let mut g = vec![0.0f32; z.len()];
        let total = Loss::SoftmaxLogLoss.rows(&z, &y, &w, sum, &mut g);
        let (expect_total, expect_g) = row_by_row(Loss::SoftmaxLogLoss, &z, &y, &w, sum);
        assert!(
            (total - expect_total).abs() <= 1e-6 * expect_total.abs(),
            "{total} vs {expect_total}"
        );
        for (a, b) in g.iter().zip(&expect_g) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "{a} vs {b}");
        }
    }
}
