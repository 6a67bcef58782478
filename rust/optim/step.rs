//! One optimizer step over a run of parameters as a single element-wise
//! pass: an update rule ([`Rule`]), with a weight's penalty gradient and
//! AdamW's decay folded in.
//!
//! The penalty and the decay are applied piece by piece: each piece of
//! weights is read for the penalty, decayed and updated while it sits in L1,
//! and the penalty's arithmetic runs while the core waits on the update's
//! divisions, instead of in a pass over memory of its own. Every element is
//! updated on its own, and the penalty's sums follow its fixed blocks, so
//! cutting the pass among threads changes no bit.

use crate::float::Float;
use crate::parallel::{Divisible, Par};
use crate::penalty::{Lanes, Penalty, WeightSums, PIECE};
use crate::simd::{dispatch, Kernel};

/// An update rule over a run of parameters and their optimizer state.
pub(super) trait Rule<T>: Divisible {
    /// The parameters the rule updates.
    fn params(&mut self) -> &mut [T];
    /// Updates every parameter with its gradient `grad`.
    fn update(self, grad: &[T]);
}

/// One optimizer step over a run of parameters: the rule, the gradient and,
/// on weights, the penalty and the decay.
pub(super) struct Step<'a, T, R> {
    /// The update rule over the run's parameters and state.
    rule: R,
    /// The run's gradient (of the data term alone when `penalty` is given).
    grad: &'a [T],
    /// The penalty whose gradient joins `grad` as the step reads it.
    penalty: Option<Penalty<T>>,
    /// AdamW's `lr·λ`: `W −= lr·λ·W` before the update.
    shrink: Option<T>,
}

impl<'a, T: Float, R: Rule<T>> Step<'a, T, R> {
    /// The step of `rule` with gradient `grad`, and on weights the penalty
    /// and AdamW's shrink factor.
    pub fn new(rule: R, grad: &'a [T], penalty: Option<Penalty<T>>, shrink: Option<T>) -> Self {
        Step {
            rule,
            grad,
            penalty,
            shrink,
        }
    }

    /// Runs the step on `par`'s threads, block by block; returns the penalty's
    /// sums over the run (zero without a penalty).
    pub fn run(self, par: Par) -> WeightSums {
        par.divide(self, &dispatch, &|a, b| a + b)
    }
}

impl<T: Float, R: Rule<T>> Divisible for Step<'_, T, R> {
    fn elements(&self) -> usize {
        self.grad.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (r, s) = self.rule.split_at(mid);
        let (g, h) = self.grad.split_at(mid);
        let half = |rule, grad| Step {
            rule,
            grad,
            penalty: self.penalty,
            shrink: self.shrink,
        };
        (half(r, g), half(s, h))
    }
}

impl<T: Float, R: Rule<T>> Kernel for Step<'_, T, R> {
    type Output = WeightSums;

    #[inline(always)]
    fn run(self) -> WeightSums {
        let Step {
            rule,
            grad,
            penalty,
            shrink,
        } = self;
        if penalty.is_none() && shrink.is_none() {
            rule.update(grad);
            return WeightSums::default();
        }
        let mut lanes = Lanes::default();
        let mut penalized = [T::zero(); PIECE];
        let mut rest = rule;
        for g in grad.chunks(PIECE) {
            let (mut piece, tail) = rest.split_at(g.len());
            rest = tail;
            let g = match penalty {
                Some(penalty) => {
                    let out = &mut penalized[..g.len()];
                    penalty.add_to(&mut lanes, piece.params(), g, out);
                    &*out
                }
                None => g,
            };
            if let Some(shrink) = shrink {
                piece.params().iter_mut().for_each(|p| *p -= shrink * *p);
            }
            piece.update(g);
        }
        lanes.sums()
    }
}

/// Both halves of an optional buffer cut at `mid`.
pub(super) fn cut_optional<T>(
    buf: Option<&mut [T]>,
    mid: usize,
) -> (Option<&mut [T]>, Option<&mut [T]>) {
    buf.map(|b| b.split_at_mut(mid)).unzip()
}
