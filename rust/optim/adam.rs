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

/// What an Adam step's every run shares: the rate with the bias corrections
/// of step `t`. Computed once per step, not once per run of parameters
/// between the weight ranges: each correction is a `pow`, and a small
/// network's step has several runs.
#[derive(Clone, Copy)]
pub(super) struct AdamStep<T> {
    /// `lr/(1−β1^t)`.
    step_size: T,
    /// `1/√(1−β2^t)`.
    inv_sqrt_bc2: T,
}

impl<T: Float> AdamStep<T> {
    /// Step `t` (1-based) at rate `lr` with decay rates `beta1`, `beta2`.
    pub fn new(lr: T, t: u64, (beta1, beta2): (f64, f64)) -> Self {
        let t = t as f64;
        AdamStep {
            // The rate as the step uses it (rounded to `T`), in f64 with the
            // correction, then rounded once (spec section 8).
            step_size: T::of(lr.f64() / (1.0 - beta1.powf(t))),
            inv_sqrt_bc2: T::of(1.0 / (1.0 - beta2.powf(t)).sqrt()),
        }
    }
}

impl<'a, T: Float> Adam<'a, T> {
    /// The rule of `Optimizer::Adam { beta1, beta2, eps, amsgrad, .. }` for
    /// the step `step` over `params` and its state `slots`.
    pub fn new(
        params: &'a mut [T],
        [m, v, vmax]: [&'a mut [T]; 3],
        step: AdamStep<T>,
        (beta1, beta2): (f64, f64),
        eps: f64,
        amsgrad: bool,
    ) -> Self {
        Adam {
            params,
            m,
            v,
            vmax: amsgrad.then_some(vmax),
            step_size: step.step_size,
            inv_sqrt_bc2: step.inv_sqrt_bc2,
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

    #[inline(always)]
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
    use super::super::testing::{assert_trajectory, close, step, trajectory, two_steps};
    use super::super::Optimizer;

    // make = lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    const TORCH_ADAM: [[f64; 3]; 5] = [
        [0.900000002, -1.900000001, 0.4000000039999998],
        [0.8042509867088761, -1.8941874963340561, 0.4429341493764306],
        [0.7549888527635799, -1.9089587781618649, 0.41056072321541287],
        [0.6859062625347347, -1.8927758352219024, 0.38145283441426264],
        [0.6613427398681719, -1.8827295305528167, 0.3719347985682148],
    ];
    // make = lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.5), eps=1e-8, amsgrad=True)
    // (β2 = 0.5 lets v fall below its maximum, so that AMSGrad matters)
    const TORCH_AMSGRAD: [[f64; 3]; 5] = [
        [0.900000002, -1.900000001, 0.4000000039999998],
        [0.8033096197848745, -1.8939627449147636, 0.438645253233339],
        [0.7569357511684287, -1.9081356538362886, 0.41126394313124864],
        [0.7065893836624795, -1.8924357090598865, 0.38917777125543834],
        [0.6879763112680618, -1.8835569468057736, 0.3823775450868264],
    ];
    // make = lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    const TORCH_L2: [[f64; 3]; 5] = [
        [0.9000000019607843, -1.9000000009803921, 0.4000000039215685],
        [0.8041253878165843, -1.8920618232755064, 0.4420737476506524],
        [0.7531753188865669, -1.9043601256501288, 0.4090820834566119],
        [0.6835036489579791, -1.8857302870764296, 0.37926574630755383],
        [0.6580458698192566, -1.872917004139274, 0.3689443540592593],
    ];
    // make = lambda p: torch.optim.AdamW(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    const TORCH_ADAMW: [[f64; 3]; 5] = [
        [0.890000002, -1.880000001, 0.3950000039999998],
        [0.785350986688876, -1.8553874963240562, 0.4339841493364306],
        [0.728235342876691, -1.8516049031886244, 0.39727088168204855],
        [0.6518703992190791, -1.8169059112167756, 0.36419028406407783],
        [0.6207881725603255, -1.7886905474355221, 0.35103034537738925],
    ];
    // trajectory_groups(lambda w, b: torch.optim.AdamW(
    //     [{"params": [w]}, {"params": [b], "weight_decay": 0.0}],
    //     lr=0.1, betas=(0.9, 0.5), eps=1e-8, weight_decay=0.1, amsgrad=True))
    const TORCH_ADAMW_BIAS_UNDECAYED: [[f64; 3]; 5] = [
        [0.890000002, -1.880000001, 0.4000000039999998],
        [0.7844096197648744, -1.8551627449047636, 0.438645253233339],
        [0.73019165495078, -1.850784026377241, 0.41126394313124864],
        [0.6725433708953229, -1.8165762413370665, 0.38917777125543834],
        [0.6472048647919519, -1.789531716669583, 0.3823775450868264],
    ];

    fn adam(weight_decay: f64) -> Optimizer {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay,
        }
    }

    /// Adam with β2 = 0.5, AdamW's decay `weight_decay`.
    fn amsgrad(amsgrad: bool, weight_decay: f64) -> Optimizer {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.5,
            eps: 1e-8,
            amsgrad,
            weight_decay,
        }
    }

    #[test]
    fn adam_and_amsgrad_match_torch() {
        assert_trajectory(&trajectory(adam(0.0), [0.1; 5], &[], 0.0), &TORCH_ADAM);
        let with_max = trajectory(amsgrad(true, 0.0), [0.1; 5], &[], 0.0);
        assert_trajectory(&with_max, &TORCH_AMSGRAD);
        let without = trajectory(amsgrad(false, 0.0), [0.1; 5], &[], 0.0);
        assert!(
            (with_max[4][0] - without[4][0]).abs() > 1e-3,
            "AMSGrad matters here"
        );
    }

    #[test]
    fn the_l2_penalty_is_torchs_coupled_weight_decay_over_the_batch_weight() {
        // alpha·W/S joins the gradient before the moments: S = 1 makes it
        // Adam's weight_decay = alpha (not AdamW's decoupled decay).
        let l2 = trajectory(adam(0.0), [0.1; 5], &[0..3], 0.01);
        assert_trajectory(&l2, &TORCH_L2);
    }

    #[test]
    fn adamw_matches_torch_and_leaves_biases_undecayed_as_a_group_without_decay() {
        // Every parameter a weight: PyTorch's AdamW, which decays them all.
        let all = trajectory(adam(0.1), [0.1; 5], &[0..3], 0.0);
        assert_trajectory(&all, &TORCH_ADAMW);
        // fnn decays weights only (the ranges it is given), as its L1/L2
        // penalties: the bias moves as PyTorch's does in a param group with
        // weight_decay=0.
        let bias_apart = trajectory(amsgrad(true, 0.1), [0.1; 5], &[0..2], 0.0);
        assert_trajectory(&bias_apart, &TORCH_ADAMW_BIAS_UNDECAYED);
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
