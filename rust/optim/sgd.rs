//! Stochastic gradient descent, with momentum and Nesterov momentum (spec
//! section 6): `buf = μ·buf + g`, then `θ −= lr·(g + μ·buf)` (Nesterov) or
//! `θ −= lr·buf`; without momentum `θ −= lr·g`.
//!
//! This is PyTorch's form (`torch.optim.SGD`, dampening 0), where the
//! velocity holds gradients and `lr` multiplies it at the step. scikit-learn's
//! `SGDOptimizer` keeps `lr` inside the velocity (`v = μ·v − lr·g; θ += v`):
//! the two agree while the rate is constant and part when it changes.

use super::step::Rule;
use crate::float::Float;
use crate::parallel::Divisible;

/// The SGD rule over a run of parameters; state slot 0 is the momentum buffer.
pub(super) struct Sgd<'a, T> {
    params: &'a mut [T],
    /// The momentum buffer (untouched without momentum).
    buf: &'a mut [T],
    lr: T,
    momentum: T,
    nesterov: bool,
}

impl<'a, T: Float> Sgd<'a, T> {
    /// The rule of `Optimizer::Sgd { momentum, nesterov }` at rate `lr` over
    /// `params` and its state `slots` (only slot 0 is used).
    pub fn new(
        params: &'a mut [T],
        [buf, _, _]: [&'a mut [T]; 3],
        lr: T,
        momentum: f64,
        nesterov: bool,
    ) -> Self {
        Sgd {
            params,
            buf,
            lr,
            momentum: T::of(momentum),
            nesterov,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{close, two_steps};
    use super::super::Optimizer;

    #[test]
    fn sgd_momentum_and_nesterov_by_hand() {
        // Plain: 1 − 0.1·0.5 − 0.1·0.25.
        close(
            &two_steps(Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
            }),
            &[0.925, -1.95],
        );
        // buf1 = g1, buf2 = 0.9·g1 + g2 = [0.7, −0.4].
        close(
            &two_steps(Optimizer::Sgd {
                momentum: 0.9,
                nesterov: false,
            }),
            &[1.0 - 0.05 - 0.07, -2.0 + 0.1 + 0.04],
        );
        // Nesterov: d1 = g1 + 0.9·g1; d2 = g2 + 0.9·buf2.
        close(
            &two_steps(Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            }),
            &[
                1.0 - 0.1 * 0.95 - 0.1 * (0.25 + 0.63),
                -2.0 + 0.1 * 1.9 - 0.1 * (0.5 - 0.36),
            ],
        );
    }
}
