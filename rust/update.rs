//! The optimizers' element-wise update rules (spec section 6) and the pass
//! that applies one to a run of parameters.
//!
//! A weight's penalty gradient and AdamW's decay are folded into the same
//! pass, piece by piece: each piece of weights is read for the penalty,
//! decayed and updated while it sits in L1, and the penalty's arithmetic runs
//! while the core waits on the update's divisions, instead of in a pass over
//! memory of its own. Every element is updated on its own, and the penalty's
//! sums follow its fixed blocks, so cutting the pass among threads changes no
//! bit.

use crate::float::Float;
use crate::parallel::{Divisible, Par};
use crate::penalty::{Lanes, Penalty, WeightSums, PIECE};
use crate::simd::{dispatch, Kernel};

/// An update rule over a run of parameters and their optimizer state.
pub(crate) trait Rule<T>: Divisible {
    /// The parameters the rule updates.
    fn params(&mut self) -> &mut [T];
    /// Updates every parameter with its gradient `grad`.
    fn update(self, grad: &[T]);
}

/// One optimizer step over a run of parameters: the rule, the gradient and,
/// on weights, the penalty and the decay.
pub(crate) struct Step<'a, T, R> {
    pub rule: R,
    pub grad: &'a [T],
    pub penalty: Option<Penalty<T>>,
    /// AdamW's `lr·λ`: `W −= lr·λ·W` before the update.
    pub shrink: Option<T>,
}

impl<T: Float, R: Rule<T>> Step<'_, T, R> {
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
fn cut_optional<T>(buf: Option<&mut [T]>, mid: usize) -> (Option<&mut [T]>, Option<&mut [T]>) {
    buf.map(|b| b.split_at_mut(mid)).unzip()
}

/// `buf = μ·buf + g; d = g + μ·buf (Nesterov) or buf; θ −= lr·d` (plain: `d = g`).
pub(crate) struct Sgd<'a, T> {
    pub params: &'a mut [T],
    /// The momentum buffer.
    pub buf: &'a mut [T],
    pub lr: T,
    pub momentum: T,
    pub nesterov: bool,
}

impl<T: Float> Divisible for Sgd<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (b, c) = self.buf.split_at_mut(mid);
        let half = |params, buf| Sgd {
            params,
            buf,
            ..self
        };
        (half(p, b), half(q, c))
    }
}

impl<T: Float> Rule<T> for Sgd<'_, T> {
    fn params(&mut self) -> &mut [T] {
        self.params
    }

    #[inline(always)]
    fn update(self, grad: &[T]) {
        let Sgd {
            params,
            buf,
            lr,
            momentum: mu,
            nesterov,
        } = self;
        if mu == T::zero() {
            for (p, &g) in params.iter_mut().zip(grad) {
                *p -= lr * g;
            }
        } else if nesterov {
            for ((p, &g), b) in params.iter_mut().zip(grad).zip(buf.iter_mut()) {
                *b = mu * *b + g;
                *p -= lr * (g + mu * *b);
            }
        } else {
            for ((p, &g), b) in params.iter_mut().zip(grad).zip(buf.iter_mut()) {
                *b = mu * *b + g;
                *p -= lr * *b;
            }
        }
    }
}

/// `sq = ρ·sq + (1−ρ)·g²; den = √max(sq − avg², 0) + ε (centered) or √sq + ε;`
/// `buf = μ·buf + g/den; θ −= lr·buf` (without momentum `θ −= lr·g/den`).
pub(crate) struct RmsProp<'a, T> {
    pub params: &'a mut [T],
    /// The square average.
    pub sq: &'a mut [T],
    /// The gradient average, present when centered.
    pub avg: Option<&'a mut [T]>,
    /// The momentum buffer, present with momentum.
    pub buf: Option<&'a mut [T]>,
    pub lr: T,
    pub rho: T,
    pub one_minus_rho: T,
    pub eps: T,
    pub momentum: T,
}

impl<T: Float> Divisible for RmsProp<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (sq, sq2) = self.sq.split_at_mut(mid);
        let (avg, avg2) = cut_optional(self.avg, mid);
        let (buf, buf2) = cut_optional(self.buf, mid);
        let half = |params, sq, avg, buf| RmsProp {
            params,
            sq,
            avg,
            buf,
            ..self
        };
        (half(p, sq, avg, buf), half(q, sq2, avg2, buf2))
    }
}

impl<T: Float> Rule<T> for RmsProp<'_, T> {
    fn params(&mut self) -> &mut [T] {
        self.params
    }

    #[inline(always)]
    fn update(self, grad: &[T]) {
        let RmsProp {
            params,
            sq,
            avg,
            buf,
            lr,
            rho,
            one_minus_rho,
            eps,
            momentum: mu,
        } = self;
        for (s, &g) in sq.iter_mut().zip(grad) {
            *s = rho * *s + one_minus_rho * g * g;
        }
        // Rounding can push the centered variance a hair below zero: clamp it.
        let centered_den = |s: T, a: T| (s - a * a).max(T::zero()).sqrt() + eps;
        let rows = params.iter_mut().zip(grad).zip(sq.iter());
        match (avg, buf) {
            (None, None) => {
                for ((p, &g), &s) in rows {
                    *p -= lr * g / (s.sqrt() + eps);
                }
            }
            (None, Some(buf)) => {
                for (((p, &g), &s), b) in rows.zip(buf) {
                    *b = mu * *b + g / (s.sqrt() + eps);
                    *p -= lr * *b;
                }
            }
            (Some(avg), None) => {
                for (((p, &g), &s), a) in rows.zip(avg) {
                    *a = rho * *a + one_minus_rho * g;
                    *p -= lr * g / centered_den(s, *a);
                }
            }
            (Some(avg), Some(buf)) => {
                for ((((p, &g), &s), a), b) in rows.zip(avg).zip(buf) {
                    *a = rho * *a + one_minus_rho * g;
                    *b = mu * *b + g / centered_den(s, *a);
                    *p -= lr * *b;
                }
            }
        }
    }
}

/// `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;`
/// `θ −= (lr/(1−β1^t))·m / (√v̂·(1/√(1−β2^t)) + ε)`, v̂ = max v with AMSGrad.
///
/// The bias correction multiplies by a reciprocal computed once per step:
/// a second division per element would make the step divider-bound (the
/// square root and one division already are, when the data is in cache).
pub(crate) struct Adam<'a, T> {
    pub params: &'a mut [T],
    pub m: &'a mut [T],
    pub v: &'a mut [T],
    /// The running maximum of `v`, present with AMSGrad.
    pub vmax: Option<&'a mut [T]>,
    /// `lr/(1−β1^t)`.
    pub step_size: T,
    /// `1/√(1−β2^t)`.
    pub inv_sqrt_bc2: T,
    pub beta1: T,
    pub beta2: T,
    pub one_minus_b1: T,
    pub one_minus_b2: T,
    pub eps: T,
}

impl<T: Float> Divisible for Adam<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (m, m2) = self.m.split_at_mut(mid);
        let (v, v2) = self.v.split_at_mut(mid);
        let (vmax, vmax2) = cut_optional(self.vmax, mid);
        let half = |params, m, v, vmax| Adam {
            params,
            m,
            v,
            vmax,
            ..self
        };
        (half(p, m, v, vmax), half(q, m2, v2, vmax2))
    }
}

impl<T: Float> Rule<T> for Adam<'_, T> {
    fn params(&mut self) -> &mut [T] {
        self.params
    }

    #[inline(always)]
    fn update(self, grad: &[T]) {
        let Adam {
            params,
            m,
            v,
            vmax,
            step_size,
            inv_sqrt_bc2,
            beta1,
            beta2,
            one_minus_b1,
            one_minus_b2,
            eps,
        } = self;
        let moments = m.iter_mut().zip(v.iter_mut());
        match vmax {
            None => {
                for ((p, &g), (m, v)) in params.iter_mut().zip(grad).zip(moments) {
                    *m = beta1 * *m + one_minus_b1 * g;
                    *v = beta2 * *v + one_minus_b2 * g * g;
                    *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                }
            }
            Some(vmax) => {
                for (((p, &g), (m, v)), vm) in params.iter_mut().zip(grad).zip(moments).zip(vmax) {
                    *m = beta1 * *m + one_minus_b1 * g;
                    *v = beta2 * *v + one_minus_b2 * g * g;
                    *vm = vm.max(*v);
                    *p -= step_size * *m / (vm.sqrt() * inv_sqrt_bc2 + eps);
                }
            }
        }
    }
}
