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

    #[inline(always)]
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
    use super::super::testing::{assert_trajectory, close, trajectory, two_steps, GRADS};
    use super::super::Optimizer;

    // make = lambda p: torch.optim.SGD(p, lr=0.1)
    const TORCH_SGD: [[f64; 3]; 5] = [
        [0.95, -1.9, 0.475],
        [0.9199999999999999, -1.98, 0.535],
        [0.94, -2.02, 0.445],
        [0.7899999999999999, -1.95, 0.44],
        [0.8799999999999999, -1.96, 0.47000000000000003],
    ];
    // make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)
    const TORCH_MOMENTUM: [[f64; 3]; 5] = [
        [0.95, -1.9, 0.475],
        [0.875, -1.89, 0.5125],
        [0.8275, -1.9209999999999998, 0.45624999999999993],
        [0.63475, -1.8788999999999998, 0.40062499999999995],
        [0.5512750000000001, -1.8510099999999998, 0.38056249999999997],
    ];
    // make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)
    const TORCH_NESTEROV: [[f64; 3]; 5] = [
        [0.905, -1.81, 0.4525],
        [0.8075, -1.881, 0.54625],
        [0.78475, -1.9489, 0.405625],
        [0.46127499999999994, -1.84101, 0.3505625],
        [0.47614749999999995, -1.825909, 0.36250625],
    ];
    // trajectory(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lrs=FALLING)
    const TORCH_MOMENTUM_FALLING_RATE: [[f64; 3]; 5] = [
        [0.95, -1.9, 0.475],
        [0.9125, -1.895, 0.49374999999999997],
        [0.900625, -1.90275, 0.4796875],
        [0.87653125, -1.8974875, 0.472734375],
        [0.8713140625, -1.895744375, 0.47148046875],
    ];
    // make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)
    const TORCH_WEIGHT_DECAY: [[f64; 3]; 5] = [
        [0.949, -1.898, 0.4745],
        [0.8721509999999999, -1.884302, 0.5110755],
        [0.8221147489999999, -1.9100894979999998, 0.4534823745],
        [0.6262600083509999, -1.8613881567019999, 0.3961950791755],
        [0.5393644817585489, -1.8256955613770978, 0.3742403183042745],
    ];

    /// A rate halved every step (`FALLING` in the snippet).
    const FALLING: [f64; 5] = [0.1, 0.05, 0.025, 0.0125, 0.00625];

    fn sgd(momentum: f64, nesterov: bool) -> Optimizer {
        Optimizer::Sgd { momentum, nesterov }
    }

    #[test]
    fn sgd_momentum_and_nesterov_match_torch() {
        let run = |opt| trajectory(opt, [0.1; 5], &[], 0.0);
        assert_trajectory(&run(sgd(0.0, false)), &TORCH_SGD);
        assert_trajectory(&run(sgd(0.9, false)), &TORCH_MOMENTUM);
        assert_trajectory(&run(sgd(0.9, true)), &TORCH_NESTEROV);
        // The rate read at each step multiplies the whole buffer, as in PyTorch.
        let falling = trajectory(sgd(0.9, false), FALLING, &[], 0.0);
        assert_trajectory(&falling, &TORCH_MOMENTUM_FALLING_RATE);
    }

    #[test]
    fn the_l2_penalty_is_torchs_weight_decay_over_the_batch_weight() {
        // alpha·W/S joins the gradient: S = 1 makes it weight_decay = alpha.
        let l2 = trajectory(sgd(0.9, false), [0.1; 5], &[0..3], 0.01);
        assert_trajectory(&l2, &TORCH_WEIGHT_DECAY);
    }

    /// scikit-learn's `SGDOptimizer`: the rate inside the velocity,
    /// `v = μ·v − lr·g`, then `θ += v`, or `θ += μ·v − lr·g` with Nesterov.
    fn scikit_learn(lrs: [f64; 5], momentum: f64, nesterov: bool) -> [[f64; 3]; 5] {
        let (mut theta, mut v) = ([1.0, -2.0, 0.5], [0.0; 3]);
        let mut out = [[0.0; 3]; 5];
        for ((g, lr), after) in GRADS.iter().zip(lrs).zip(&mut out) {
            for j in 0..3 {
                v[j] = momentum * v[j] - lr * g[j];
                theta[j] += if nesterov {
                    momentum * v[j] - lr * g[j]
                } else {
                    v[j]
                };
            }
            *after = theta;
        }
        out
    }

    #[test]
    fn momentum_is_scikit_learns_at_a_constant_rate_and_parts_from_it_when_the_rate_moves() {
        // fnn follows PyTorch: `lr` multiplies the buffer of gradients when
        // the step is taken. scikit-learn multiplies each gradient by the
        // rate of its own step: the same while the rate is constant.
        for nesterov in [false, true] {
            let fnn = trajectory(sgd(0.9, nesterov), [0.1; 5], &[], 0.0);
            assert_trajectory(&fnn, &scikit_learn([0.1; 5], 0.9, nesterov));
        }
        // When it moves, step t differs by Σ_{s≤t} μ^(t−s)·(lr_s − lr_t)·g_s.
        let fnn = trajectory(sgd(0.9, false), FALLING, &[], 0.0);
        let sk = scikit_learn(FALLING, 0.9, false);
        let mut gap = [0.0; 3];
        for t in 0..5 {
            for s in 0..=t {
                for j in 0..3 {
                    gap[j] += 0.9f64.powi((t - s) as i32) * (FALLING[s] - FALLING[t]) * GRADS[s][j];
                }
            }
            let expected: Vec<f64> = sk[t].iter().zip(&gap).map(|(s, d)| s + d).collect();
            close(&fnn[t], &expected);
        }
        assert!((fnn[4][0] - sk[4][0]).abs() > 1e-2, "the two forms part");
    }

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
