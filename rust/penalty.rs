//! The L2/L1 weight penalty (spec sections 4 and 5): per layer and batch,
//! `(alpha·W + l1·sign(W)) / S` joins the weight gradient, and `ΣW²` and `Σ|W|`
//! are summed for the objective.
//!
//! The pass runs in fixed blocks ([`Par::divide`]), each summing into
//! `LANES` independent accumulators that the loop can keep in vector
//! registers (in the training type within a `PIECE`, in f64 across pieces);
//! lanes, then blocks, are combined in an order fixed by the layer's size, so
//! the sums are the same on any number of threads. The
//! training loop folds the pass into the optimizer step (`crate::optim`),
//! which cuts and sums the same way: both give the same bits.

use std::ops::Add;

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::parallel::{Divisible, Par};
use crate::simd::{dispatch, Kernel};

/// Independent partial sums per block: enough to hide the latency of an f64
/// add, two AVX2 registers of them.
const LANES: usize = 8;

/// Elements per piece of a block. The optimizer step runs the penalty's
/// loops and its own one piece at a time: pieces this short let the core
/// overlap one piece's penalty work with the previous piece's divisions and
/// square roots, which makes the penalty almost free there, and longer
/// pieces do not (see BENCHMARKS.md, "Measurements behind the code's constants").
/// A multiple of [`LANES`], so that element `i` of a block always lands in
/// lane `i % LANES`.
pub(crate) const PIECE: usize = 128;

/// `ΣW²` and `Σ|W|` over some weights.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightSums {
    /// `ΣW²`.
    pub squares: f64,
    /// `Σ|W|` (0 when the L1 term is off and the sum was skipped).
    pub absolutes: f64,
}

impl Add for WeightSums {
    type Output = WeightSums;
    fn add(self, other: WeightSums) -> WeightSums {
        WeightSums {
            squares: self.squares + other.squares,
            absolutes: self.absolutes + other.absolutes,
        }
    }
}

/// The penalty of one batch.
#[derive(Clone, Copy, Debug)]
pub struct Penalty<T> {
    alpha: f64,
    l1: f64,
    /// `alpha / S` and `l1 / S` in the training type, `S` being the batch's
    /// weight sum.
    alpha_over_s: T,
    /// `None` when `l1 == 0`: the sign and `Σ|W|` are then skipped.
    l1_over_s: Option<T>,
}

/// `Err` unless `alpha` and `l1` are finite and `>= 0`.
pub fn validate(alpha: f64, l1: f64) -> Result<()> {
    if alpha >= 0.0 && alpha.is_finite() && l1 >= 0.0 && l1.is_finite() {
        Ok(())
    } else {
        Err(FnnError::Config(format!(
            "alpha and l1 must be finite and >= 0, got {alpha} and {l1}"
        )))
    }
}

impl<T: Float> Penalty<T> {
    /// The penalty `alpha`, `l1` (see [`validate`]) for a batch whose sample weights sum to
    /// `weight_sum`; `None` when both are zero (nothing to do).
    pub fn new(alpha: f64, l1: f64, weight_sum: T) -> Option<Self> {
        if alpha == 0.0 && l1 == 0.0 {
            return None;
        }
        Some(Penalty {
            alpha,
            l1,
            alpha_over_s: T::of(alpha) / weight_sum,
            l1_over_s: (l1 != 0.0).then(|| T::of(l1) / weight_sum),
        })
    }

    /// The unscaled penalty `½·alpha·ΣW² + l1·Σ|W|`.
    pub fn value(&self, sums: WeightSums) -> f64 {
        0.5 * self.alpha * sums.squares + self.l1 * sums.absolutes
    }

    /// Adds the penalty's gradient at `weights` to `grad` (one layer's
    /// weights and their gradient) and returns the layer's sums; `Σ|W|` is
    /// left at 0 without an L1 term.
    pub fn add_gradient(self, weights: &[T], grad: &mut [T], par: Par) -> WeightSums {
        let pass = InPlace {
            penalty: self,
            weights,
            grad,
        };
        par.divide(pass, &dispatch, &|a, b| a + b)
    }

    /// `out = grad + ` the penalty's gradient at `weights`, and the weights
    /// into `lanes`: one piece of a block, the block's earlier pieces already
    /// in `lanes`.
    #[inline(always)]
    pub(crate) fn add_to(self, lanes: &mut Lanes, weights: &[T], grad: &[T], out: &mut [T]) {
        let a = self.alpha_over_s;
        let terms = out.iter_mut().zip(grad).zip(weights);
        match self.l1_over_s {
            None => terms.for_each(|((o, &g), &v)| *o = g + a * v),
            Some(b) => terms.for_each(|((o, &g), &v)| *o = g + (a * v + b * sign(v))),
        }
        lanes.add(weights, self.l1_over_s.is_some());
    }

    /// [`Penalty::add_to`] in place.
    #[inline(always)]
    fn add_in_place(self, lanes: &mut Lanes, weights: &[T], grad: &mut [T]) {
        let a = self.alpha_over_s;
        let terms = grad.iter_mut().zip(weights);
        match self.l1_over_s {
            None => terms.for_each(|(g, &v)| *g += a * v),
            Some(b) => terms.for_each(|(g, &v)| *g += a * v + b * sign(v)),
        }
        lanes.add(weights, self.l1_over_s.is_some());
    }
}

/// The running sums of one block, lane by lane.
#[derive(Default)]
pub(crate) struct Lanes {
    squares: [f64; LANES],
    absolutes: [f64; LANES],
}

impl Lanes {
    /// Adds a piece of weights: `W²`, and `|W|` when asked.
    #[inline(always)]
    fn add<T: Float>(&mut self, weights: &[T], absolutes: bool) {
        // Separate loops over the piece (in L1): each alone vectorises.
        add_lanes(&mut self.squares, weights, |v| v * v);
        if absolutes {
            add_lanes(&mut self.absolutes, weights, |v| v.abs());
        }
    }

    /// The block's sums, lanes combined in order.
    pub(crate) fn sums(&self) -> WeightSums {
        let total = |lanes: &[f64; LANES]| lanes.iter().sum::<f64>();
        WeightSums {
            squares: total(&self.squares),
            absolutes: total(&self.absolutes),
        }
    }
}

/// Adds `f(w[i])` to lane `i % LANES` of `lanes`.
///
/// Within the piece the lanes sum in the training type (`PIECE / LANES` = 16
/// terms each); the pieces' lane sums then add up in f64. Summing in f64
/// throughout took longer than the rest of the pass: for f32, widening
/// doubles the vector work.
#[inline(always)]
fn add_lanes<T: Float>(lanes: &mut [f64; LANES], w: &[T], f: impl Fn(T) -> T) {
    let mut piece = [T::zero(); LANES];
    let mut chunks = w.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in piece.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    for (lane, &v) in piece.iter_mut().zip(chunks.remainder()) {
        *lane += f(v);
    }
    for (lane, v) in lanes.iter_mut().zip(piece) {
        *lane += v.f64();
    }
}

/// `sign(v)` with `sign(0) = 0` (spec section 5).
#[inline(always)]
fn sign<T: Float>(v: T) -> T {
    if v > T::zero() {
        T::one()
    } else if v < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// The penalty added to a gradient in place: the backward pass's way.
struct InPlace<'a, T> {
    penalty: Penalty<T>,
    weights: &'a [T],
    grad: &'a mut [T],
}

impl<T: Float> Divisible for InPlace<'_, T> {
    fn elements(&self) -> usize {
        self.weights.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (w, v) = self.weights.split_at(mid);
        let (g, h) = self.grad.split_at_mut(mid);
        let half = |weights, grad| InPlace {
            penalty: self.penalty,
            weights,
            grad,
        };
        (half(w, g), half(v, h))
    }
}

impl<T: Float> Kernel for InPlace<'_, T> {
    type Output = WeightSums;

    #[inline(always)]
    fn run(self) -> WeightSums {
        let mut lanes = Lanes::default();
        let pieces = self.weights.chunks(PIECE).zip(self.grad.chunks_mut(PIECE));
        for (w, g) in pieces {
            self.penalty.add_in_place(&mut lanes, w, g);
        }
        lanes.sums()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::{run_with_threads, BLOCK_ELEMENTS};

    fn weights(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) * 1e-3)
            .collect()
    }

    #[test]
    fn gradient_and_sums_by_hand() {
        let w = [0.5, -2.0, 0.0];
        let mut g = [1.0, 1.0, 1.0];
        let penalty = Penalty::new(0.5, 0.25, 2.0).unwrap();
        let sums = penalty.add_gradient(&w, &mut g, Par::SERIAL);
        // g += (0.5·w + 0.25·sign(w)) / 2.
        assert_eq!(g, [1.0 + 0.125 + 0.125, 1.0 - 0.5 - 0.125, 1.0]);
        assert_eq!(
            sums,
            WeightSums {
                squares: 4.25,
                absolutes: 2.5
            }
        );
    }

    #[test]
    fn no_penalty_is_nothing_to_do() {
        assert!(Penalty::new(0.0, 0.0, 1.0f32).is_none());
    }

    #[test]
    fn blocks_sum_to_the_plain_sum_and_threads_change_no_bit() {
        // Several blocks and a tail that fills no whole lane group.
        let n = 5 * BLOCK_ELEMENTS / 2 + 3;
        let w = weights(n);
        let penalty = Penalty::new(1e-2, 1e-3, 128.0f32).unwrap();
        let run = |threads| {
            let mut g = vec![0.5f32; n];
            let par = Par { threads };
            let sums = run_with_threads(threads, || penalty.add_gradient(&w, &mut g, par)).unwrap();
            (g, sums)
        };
        let (g1, s1) = run(1);
        let (g2, s2) = run(2);
        assert_eq!(g1, g2);
        assert_eq!(s1.squares.to_bits(), s2.squares.to_bits());
        assert_eq!(s1.absolutes.to_bits(), s2.absolutes.to_bits());
        let squares: f64 = w.iter().map(|&v| (v as f64) * (v as f64)).sum();
        let absolutes: f64 = w.iter().map(|&v| v.abs() as f64).sum();
        // Pieces sum 16 terms per lane in f32, then f64.
        assert!((s1.squares - squares).abs() <= 1e-6 * squares);
        assert!((s1.absolutes - absolutes).abs() <= 1e-6 * absolutes);
        let expect = |v: f32| 0.5 + (1e-2f32 / 128.0 * v + 1e-3f32 / 128.0 * sign(v));
        assert!(g1.iter().zip(&w).all(|(&g, &v)| g == expect(v)));
    }
}
