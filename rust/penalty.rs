//! The L2/L1 weight penalty (spec sections 4 and 5): once per batch and layer,
//! `(alpha·W + l1·sign(W)) / S` joins the weight gradient, and `ΣW²` and `Σ|W|`
//! are summed for the objective.
//!
//! The pass runs in fixed blocks ([`Par::divide`]), each summing into
//! [`LANES`] independent f64 accumulators that the loop can keep in vector
//! registers; lanes, then blocks, are combined in an order fixed by the
//! layer's size, so the sums are the same on any number of threads.

use std::ops::Add;

use crate::float::Float;
use crate::parallel::{Divisible, Par};
use crate::simd::{dispatch, Kernel};

/// Independent partial sums per block: enough to hide the latency of an f64
/// add, two AVX2 registers of them.
const LANES: usize = 8;

/// Elements per piece of a block: both buffers' pieces stay in L1 between the
/// gradient loop and the summing loops.
const PIECE: usize = 1024;

/// `ΣW²` and `Σ|W|` over some weights.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightSums {
    pub squares: f64,
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

/// The penalty of one batch: `alpha` and `l1`, each divided by the batch's
/// weight sum `S`, in the training type.
#[derive(Clone, Copy, Debug)]
pub struct Penalty<T> {
    alpha_over_s: T,
    /// `None` when `l1 == 0`: the sign and `Σ|W|` are then skipped.
    l1_over_s: Option<T>,
}

impl<T: Float> Penalty<T> {
    /// The penalty `alpha`, `l1` for a batch whose sample weights sum to
    /// `weight_sum`; `None` when both are zero (nothing to do).
    pub fn new(alpha: f64, l1: f64, weight_sum: T) -> Option<Self> {
        if alpha == 0.0 && l1 == 0.0 {
            return None;
        }
        Some(Penalty {
            alpha_over_s: T::of(alpha) / weight_sum,
            l1_over_s: (l1 != 0.0).then(|| T::of(l1) / weight_sum),
        })
    }

    /// Adds the penalty's gradient at `weights` to `grad` (one layer's
    /// weights and their gradient) and returns the layer's sums; `Σ|W|` is
    /// left at 0 without an L1 term.
    pub fn add_gradient(self, weights: &[T], grad: &mut [T], par: Par) -> WeightSums {
        let pass = PenaltyPass {
            penalty: self,
            weights,
            grad,
        };
        par.divide(pass, &PenaltyPass::run_dispatched, &|a, b| a + b)
    }
}

/// One block of the pass: the weights and their gradient, side by side.
struct PenaltyPass<'a, T> {
    penalty: Penalty<T>,
    weights: &'a [T],
    grad: &'a mut [T],
}

impl<T: Float> PenaltyPass<'_, T> {
    fn run_dispatched(self) -> WeightSums {
        let mut sums = WeightSums::default();
        dispatch(Summing {
            pass: self,
            into: &mut sums,
        });
        sums
    }
}

impl<T: Float> Divisible for PenaltyPass<'_, T> {
    fn elements(&self) -> usize {
        self.weights.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (w, v) = self.weights.split_at(mid);
        let (g, h) = self.grad.split_at_mut(mid);
        let half = |weights, grad| PenaltyPass {
            penalty: self.penalty,
            weights,
            grad,
        };
        (half(w, g), half(v, h))
    }
}

/// A block with the place its sums go ([`Kernel::run`] returns nothing).
struct Summing<'a, 'b, T> {
    pass: PenaltyPass<'a, T>,
    into: &'b mut WeightSums,
}

impl<T: Float> Kernel for Summing<'_, '_, T> {
    #[inline(always)]
    fn run(self) {
        let PenaltyPass {
            penalty,
            weights,
            grad,
        } = self.pass;
        let a = penalty.alpha_over_s;
        let mut squares = [0.0f64; LANES];
        let mut absolutes = [0.0f64; LANES];
        // Gradient and sums in separate loops over pieces that stay in L1:
        // each loop alone is simple enough for the compiler to vectorise.
        for (w, g) in weights.chunks(PIECE).zip(grad.chunks_mut(PIECE)) {
            match penalty.l1_over_s {
                None => g.iter_mut().zip(w).for_each(|(g, &v)| *g += a * v),
                Some(b) => g
                    .iter_mut()
                    .zip(w)
                    .for_each(|(g, &v)| *g += a * v + b * sign(v)),
            }
            add_lanes(&mut squares, w, |v| v.f64() * v.f64());
            if penalty.l1_over_s.is_some() {
                add_lanes(&mut absolutes, w, |v| v.abs().f64());
            }
        }
        let total = |lanes: [f64; LANES]| lanes.iter().sum::<f64>();
        *self.into = WeightSums {
            squares: total(squares),
            absolutes: total(absolutes),
        };
    }
}

/// Adds `f(w[i])` to lane `i % LANES` of `lanes`.
#[inline(always)]
fn add_lanes<T: Float>(lanes: &mut [f64; LANES], w: &[T], f: impl Fn(T) -> f64) {
    let mut chunks = w.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += f(v);
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
        assert!((s1.squares - squares).abs() <= 1e-12 * squares);
        assert!((s1.absolutes - absolutes).abs() <= 1e-12 * absolutes);
        let expect = |v: f32| 0.5 + (1e-2f32 / 128.0 * v + 1e-3f32 / 128.0 * sign(v));
        assert!(g1.iter().zip(&w).all(|(&g, &v)| g == expect(v)));
    }
}
