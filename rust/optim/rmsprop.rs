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

    #[inline(always)]
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
    use super::super::testing::{assert_trajectory, close, step, trajectory};
    use super::super::Optimizer;

    // make = lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8)
    const TORCH_PLAIN: [[f64; 3]; 5] = [
        [0.968377225398316, -1.9683772243983162, 0.46837722739831567],
        [0.9514741412561266, -1.9887631115363407, 0.4977858108406266],
        [0.962593835072884, -1.9989362565564377, 0.47163699358193617],
        [0.9328377288974463, -1.9827979686068677, 0.4701074927904929],
        [0.9490099416090374, -1.9852210026491441, 0.47935778458062317],
    ];
    // make = lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8, centered=True)
    const TORCH_CENTERED: [[f64; 3]; 5] = [
        [0.9666666688888887, -1.9666666677777778, 0.4666666711111105],
        [0.9480165738835027, -1.987059176935343, 0.4965849732995397],
        [0.9595455785833693, -1.9972640884733721, 0.47007979160321983],
        [0.9273423826767013, -1.9810492422110888, 0.46852765597310636],
        [0.9436996548559606, -1.9834778280842607, 0.4777956983442354],
    ];
    // make = lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8, momentum=0.5)
    const TORCH_MOMENTUM: [[f64; 3]; 5] = [
        [0.968377225398316, -1.9683772243983162, 0.46837722739831567],
        [0.9356627539552846, -1.9729517237354988, 0.48197442453978445],
        [0.9304252120505263, -1.985412118424187, 0.4626242058518284],
        [0.8980503349227095, -1.9755040278189613, 0.45141959571640705],
        [0.8980351090703922, -1.9729730165586248, 0.45506758243882667],
    ];
    // make = lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8, momentum=0.5,
    //                                      centered=True)
    const TORCH_CENTERED_MOMENTUM: [[f64; 3]; 5] = [
        [0.9666666688888887, -1.9666666677777778, 0.4666666711111105],
        [0.9313499083279471, -1.970392510824232, 0.47991830885509495],
        [0.9252205327473428, -1.9824603438854882, 0.4600389460307673],
        [0.8899526490503727, -1.9722794141538331, 0.44854712898849],
        [0.888675979381147, -1.9696175351611775, 0.45206926283848037],
    ];

    #[test]
    fn rmsprop_plain_centered_and_with_momentum_match_torch() {
        // fnn's `rho` is PyTorch's `alpha`.
        let run = |momentum, centered| {
            let rms = Optimizer::RmsProp {
                rho: 0.9,
                eps: 1e-8,
                momentum,
                centered,
            };
            trajectory(rms, [0.01; 5], &[], 0.0)
        };
        assert_trajectory(&run(0.0, false), &TORCH_PLAIN);
        assert_trajectory(&run(0.0, true), &TORCH_CENTERED);
        assert_trajectory(&run(0.5, false), &TORCH_MOMENTUM);
        assert_trajectory(&run(0.5, true), &TORCH_CENTERED_MOMENTUM);
    }

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
