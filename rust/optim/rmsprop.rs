//! RMSprop (spec section 6), PyTorch's `torch.optim.RMSprop`:
//! `sq = ρ·sq + (1−ρ)·g²`; `den = √max(sq − avg², 0) + ε` when centered
//! (`avg = ρ·avg + (1−ρ)·g`), else `√sq + ε`; then `buf = μ·buf + g/den`,
//! `θ −= lr·buf`, or without momentum `θ −= lr·g/den`.
//!
//! The clamp at 0 is fnn's: rounding can push the centered variance a hair
//! below zero, where PyTorch's square root gives NaN.

use super::step::{cut_optional, Rule};
use crate::float::Float;
use crate::parallel::Divisible;

/// The RMSprop rule over a run of parameters; state slots: 0 = square
/// average, 1 = gradient average (centered), 2 = momentum buffer.
pub(super) struct RmsProp<'a, T> {
    params: &'a mut [T],
    /// The square average.
    sq: &'a mut [T],
    /// The gradient average, present when centered.
    avg: Option<&'a mut [T]>,
    /// The momentum buffer, present with momentum.
    buf: Option<&'a mut [T]>,
    lr: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
    momentum: T,
}

impl<'a, T: Float> RmsProp<'a, T> {
    /// The rule of `Optimizer::RmsProp { rho, eps, momentum, centered }` at
    /// rate `lr` over `params` and its state `slots`.
    pub fn new(
        params: &'a mut [T],
        [sq, avg, buf]: [&'a mut [T]; 3],
        lr: T,
        rho: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
    ) -> Self {
        RmsProp {
            params,
            sq,
            avg: centered.then_some(avg),
            buf: (momentum > 0.0).then_some(buf),
            lr,
            rho: T::of(rho),
            one_minus_rho: T::of(1.0 - rho),
            eps: T::of(eps),
            momentum: T::of(momentum),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{close, step};
    use super::super::Optimizer;

    #[test]
    fn rmsprop_first_step_by_hand() {
        let mut p = vec![1.0];
        let mut slots = vec![0.0; 3];
        let rms = Optimizer::RmsProp {
            rho: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        };
        step(rms, &mut p, &[0.5], &mut slots, (0.01, 1), &[]).unwrap();
        // sq = 0.01·0.25 → √sq = 0.05.
        close(&p, &[1.0 - 0.01 * 0.5 / (0.05 + 1e-8)]);
    }
}
