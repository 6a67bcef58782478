//! Adam, AMSGrad and AdamW (spec section 6), PyTorch's `torch.optim.Adam`
//! and `AdamW`: `m = β1·m + (1−β1)·g`, `v = β2·v + (1−β2)·g²`,
//! `θ −= (lr/(1−β1^t))·m / (√v̂·(1/√(1−β2^t)) + ε)` with `v̂ = v`, or with
//! AMSGrad the largest `v` so far. AdamW first shrinks the weights,
//! `W −= lr·λ·W` (the pass in `step` does that); PyTorch decays every
//! parameter, fnn the weights only, as its L1/L2 penalties.
//!
//! The bias correction multiplies by a reciprocal computed once per step:
//! a second division per element would make the step divider-bound (the
//! square root and one division already are, when the data is in cache).

use super::step::{cut_optional, Rule};
use crate::float::Float;
use crate::parallel::Divisible;

/// The Adam rule over a run of parameters; state slots: 0 = `m`, 1 = `v`,
/// 2 = the running maximum of `v` (AMSGrad).
pub(super) struct Adam<'a, T> {
    params: &'a mut [T],
    m: &'a mut [T],
    v: &'a mut [T],
    /// The running maximum of `v`, present with AMSGrad.
    vmax: Option<&'a mut [T]>,
    /// `lr/(1−β1^t)`.
    step_size: T,
    /// `1/√(1−β2^t)`.
    inv_sqrt_bc2: T,
    beta1: T,
    beta2: T,
    one_minus_b1: T,
    one_minus_b2: T,
    eps: T,
}

impl<'a, T: Float> Adam<'a, T> {
    /// The rule of `Optimizer::Adam { beta1, beta2, eps, amsgrad, .. }` for
    /// step `t` (1-based) at rate `lr` over `params` and its state `slots`.
    pub fn new(
        params: &'a mut [T],
        [m, v, vmax]: [&'a mut [T]; 3],
        lr: T,
        t: u64,
        (beta1, beta2): (f64, f64),
        eps: f64,
        amsgrad: bool,
    ) -> Self {
        let t = t as f64;
        Adam {
            params,
            m,
            v,
            vmax: amsgrad.then_some(vmax),
            // The rate as the step uses it (rounded to `T`), in f64 with the
            // correction, then rounded once (spec section 8).
            step_size: T::of(lr.f64() / (1.0 - beta1.powf(t))),
            inv_sqrt_bc2: T::of(1.0 / (1.0 - beta2.powf(t)).sqrt()),
            beta1: T::of(beta1),
            beta2: T::of(beta2),
            one_minus_b1: T::of(1.0 - beta1),
            one_minus_b2: T::of(1.0 - beta2),
            eps: T::of(eps),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{close, step, two_steps};
    use super::super::Optimizer;

    fn adam(weight_decay: f64) -> Optimizer {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay,
        }
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_lr() {
        // After one step m̂ = g and v̂ = g², so the move is lr·g/(|g| + ε).
        let mut p = vec![1.0, -2.0];
        let mut slots = vec![0.0; 6];
        step(adam(0.0), &mut p, &[0.5, -1.0], &mut slots, (0.1, 1), &[]).unwrap();
        close(
            &p,
            &[
                1.0 - 0.1 * 0.5 / (0.5 + 1e-8),
                -2.0 + 0.1 * 1.0 / (1.0 + 1e-8),
            ],
        );
    }

    #[test]
    fn adam_second_step_by_hand() {
        let p = two_steps(adam(0.0));
        let step1 = |g: f64| 0.1 * g / (g.abs() + 1e-8);
        let expect = |p0: f64, g1: f64, g2: f64| {
            let m = 0.9 * 0.1 * g1 + 0.1 * g2;
            let v = 0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2;
            let bc1 = 1.0 - 0.81;
            let bc2: f64 = 1.0 - 0.999f64.powi(2);
            p0 - step1(g1) - (0.1 / bc1) * m / (v.sqrt() / bc2.sqrt() + 1e-8)
        };
        close(&p, &[expect(1.0, 0.5, 0.25), expect(-2.0, -1.0, 0.5)]);
    }

    #[test]
    fn adamw_decays_only_listed_ranges() {
        let mut p = vec![1.0, 1.0];
        let mut slots = vec![0.0; 6];
        step(
            adam(0.5),
            &mut p,
            &[0.0, 0.0],
            &mut slots,
            (0.1, 1),
            &[0..1],
        )
        .unwrap();
        close(&p, &[0.95, 1.0]);
    }
}
