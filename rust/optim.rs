//! Optimizers and learning-rate schedules (spec sections 6 and 7), following
//! PyTorch's documented update rules.
//!
//! State lives in three caller-owned slots shaped like the parameters, so the
//! Python side can pickle it and warm-start from it.

use std::ops::Range;

use crate::error::{check_len, FnnError, Result};
use crate::float::Float;
use crate::parallel::Par;
use crate::penalty::{Penalty, WeightSums};
use crate::update::{self, Step};

/// An update rule with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Slot 0 = momentum buffer.
    /// `buf = μ·buf + g; d = g + μ·buf (Nesterov) or buf; θ −= lr·d` (plain: `d = g`).
    Sgd {
        /// `μ`, in `[0, 1)`; 0 is plain SGD.
        momentum: f64,
        /// Step along `g + μ·buf` instead of `buf` (with `μ > 0`).
        nesterov: bool,
    },
    /// Slots: 0 = square average, 1 = gradient average (centered), 2 = momentum.
    /// `sq = ρ·sq + (1−ρ)·g²; den = √max(sq − avg², 0) + ε (centered) or √sq + ε;`
    /// `buf = μ·buf + g/den; θ −= lr·buf` (without momentum `θ −= lr·g/den`).
    RmsProp {
        /// `ρ`, the square average's decay, in `[0, 1)` (PyTorch's `alpha`).
        rho: f64,
        /// `ε`, added to the root mean square, `> 0`.
        eps: f64,
        /// `μ`, in `[0, 1)`; 0 steps along `g/den` directly.
        momentum: f64,
        /// Divide by the standard deviation of the gradient rather than its
        /// root mean square.
        centered: bool,
    },
    /// Slots: 0 = m, 1 = v, 2 = max v (AMSGrad).
    /// `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;`
    /// `θ −= (lr/(1−β1^t))·m / (√v̂/√(1−β2^t) + ε)`, v̂ = max v with AMSGrad.
    /// With `weight_decay > 0` (AdamW) weights first shrink: `W −= lr·λ·W`.
    Adam {
        /// `β1`, the first moment's decay, in `[0, 1)`.
        beta1: f64,
        /// `β2`, the second moment's decay, in `[0, 1)`.
        beta2: f64,
        /// `ε`, added to the root of the second moment, `> 0`.
        eps: f64,
        /// Divide by the largest second moment so far (AMSGrad).
        amsgrad: bool,
        /// AdamW's decoupled decay `λ` of the weights, `>= 0` (0: Adam).
        weight_decay: f64,
    },
}

impl Optimizer {
    /// Rejects settings outside their domain.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64| FnnError::Config(format!("{what} out of range: {v}"));
        let unit = |v: f64| (0.0..1.0).contains(&v);
        match *self {
            Optimizer::Sgd { momentum, .. } if !unit(momentum) => Err(bad("momentum", momentum)),
            Optimizer::RmsProp {
                rho, eps, momentum, ..
            } => {
                if !unit(rho) {
                    Err(bad("rho", rho))
                } else if !(eps > 0.0) {
                    Err(bad("epsilon", eps))
                } else if !unit(momentum) {
                    Err(bad("momentum", momentum))
                } else {
                    Ok(())
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                if !unit(beta1) {
                    Err(bad("beta_1", beta1))
                } else if !unit(beta2) {
                    Err(bad("beta_2", beta2))
                } else if !(eps > 0.0) {
                    Err(bad("epsilon", eps))
                } else if !(weight_decay >= 0.0) {
                    Err(bad("weight_decay", weight_decay))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// One update of `params` with gradient `grad`; `slots` holds the three
    /// state buffers back to back. `t` is the 1-based step number; `decayed`
    /// lists the ranges AdamW's weight decay applies to (in order, apart).
    /// Every parameter is updated on its own, so sharing the work among
    /// `par`'s threads changes no result.
    #[allow(clippy::too_many_arguments)]
    pub fn step<T: Float>(
        &self,
        params: &mut [T],
        grad: &[T],
        slots: &mut [T],
        lr: f64,
        t: u64,
        decayed: &[Range<usize>],
        par: Par,
    ) -> Result<()> {
        let slots = split_slots(slots, params.len())?;
        self.step_with(slots, params, grad, lr, t, decayed, par)
    }

    /// [`Optimizer::step`] with the three state buffers given separately.
    #[allow(clippy::too_many_arguments)]
    pub fn step_with<T: Float>(
        &self,
        slots: [&mut [T]; 3],
        params: &mut [T],
        grad: &[T],
        lr: f64,
        t: u64,
        decayed: &[Range<usize>],
        par: Par,
    ) -> Result<()> {
        self.step_runs(slots, params, grad, lr, t, decayed, None, par)?;
        Ok(())
    }

    /// [`Optimizer::step`] with `grad` the gradient of the data term alone:
    /// `penalty`'s gradient at the `weights` ranges (the weights' ranges, in
    /// order; AdamW decays the same ranges) is added as the step reads them,
    /// as the backward pass would have added it. Returns the penalty's sums
    /// over the weights before the step, as the backward pass would have.
    #[allow(clippy::too_many_arguments)]
    pub fn step_penalized<T: Float>(
        &self,
        params: &mut [T],
        grad: &[T],
        slots: &mut [T],
        lr: f64,
        t: u64,
        weights: &[Range<usize>],
        penalty: Penalty<T>,
        par: Par,
    ) -> Result<WeightSums> {
        self.update(params, grad, slots, lr, t, weights, Some(penalty), par)
    }

    /// The training loop's one entry point: [`Optimizer::step_penalized`]
    /// with a penalty, [`Optimizer::step`] without one (the sums then 0).
    #[allow(clippy::too_many_arguments)]
    pub fn update<T: Float>(
        &self,
        params: &mut [T],
        grad: &[T],
        slots: &mut [T],
        lr: f64,
        t: u64,
        weights: &[Range<usize>],
        penalty: Option<Penalty<T>>,
        par: Par,
    ) -> Result<WeightSums> {
        let slots = split_slots(slots, params.len())?;
        self.step_runs(slots, params, grad, lr, t, weights, penalty, par)
    }

    /// The step, run by run: each weight range with the penalty and the
    /// decay, the parameters between them without.
    #[allow(clippy::too_many_arguments)]
    fn step_runs<T: Float>(
        &self,
        [s0, s1, s2]: [&mut [T]; 3],
        params: &mut [T],
        grad: &[T],
        lr: f64,
        t: u64,
        weights: &[Range<usize>],
        penalty: Option<Penalty<T>>,
        par: Par,
    ) -> Result<WeightSums> {
        let n = params.len();
        check_len("grad", grad.len(), n)?;
        if [s0.len(), s1.len(), s2.len()] != [n; 3] {
            return Err(FnnError::Shape(format!(
                "optimizer state slots have {}, {} and {} elements, expected {n} each",
                s0.len(),
                s1.len(),
                s2.len()
            )));
        }
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(FnnError::Config(format!(
                "the learning rate must be finite and >= 0, got {lr}"
            )));
        }
        let mut end = 0;
        for r in weights {
            if r.start < end || r.start > r.end || r.end > n {
                return Err(FnnError::Shape(
                    "weight ranges must lie inside the parameters, in order and apart".into(),
                ));
            }
            end = r.end;
        }
        let lr = T::of(lr);
        let shrink = match *self {
            Optimizer::Adam { weight_decay, .. } if weight_decay > 0.0 => {
                Some(lr * T::of(weight_decay))
            }
            _ => None,
        };
        let mut run = |range: Range<usize>, on_weights: bool| {
            let (params, grad) = (&mut params[range.clone()], &grad[range.clone()]);
            let (s0, s1, s2) = (
                &mut s0[range.clone()],
                &mut s1[range.clone()],
                &mut s2[range],
            );
            let penalty = penalty.filter(|_| on_weights);
            let shrink = shrink.filter(|_| on_weights);
            match *self {
                Optimizer::Sgd { momentum, nesterov } => Step {
                    rule: update::Sgd {
                        params,
                        buf: s0,
                        lr,
                        momentum: T::of(momentum),
                        nesterov,
                    },
                    grad,
                    penalty,
                    shrink,
                }
                .run(par),
                Optimizer::RmsProp {
                    rho,
                    eps,
                    momentum,
                    centered,
                } => Step {
                    rule: update::RmsProp {
                        params,
                        sq: s0,
                        avg: centered.then_some(s1),
                        buf: (momentum > 0.0).then_some(s2),
                        lr,
                        rho: T::of(rho),
                        one_minus_rho: T::of(1.0 - rho),
                        eps: T::of(eps),
                        momentum: T::of(momentum),
                    },
                    grad,
                    penalty,
                    shrink,
                }
                .run(par),
                Optimizer::Adam {
                    beta1,
                    beta2,
                    eps,
                    amsgrad,
                    ..
                } => {
                    let tf = t as f64;
                    Step {
                        rule: update::Adam {
                            params,
                            m: s0,
                            v: s1,
                            vmax: amsgrad.then_some(s2),
                            step_size: T::of(lr.f64() / (1.0 - beta1.powf(tf))),
                            inv_sqrt_bc2: T::of(1.0 / (1.0 - beta2.powf(tf)).sqrt()),
                            beta1: T::of(beta1),
                            beta2: T::of(beta2),
                            one_minus_b1: T::of(1.0 - beta1),
                            one_minus_b2: T::of(1.0 - beta2),
                            eps: T::of(eps),
                        },
                        grad,
                        penalty,
                        shrink,
                    }
                    .run(par)
                }
            }
        };
        if penalty.is_none() && shrink.is_none() {
            return Ok(run(0..n, false));
        }
        let mut sums = WeightSums::default();
        let mut at = 0;
        for r in weights {
            if at < r.start {
                run(at..r.start, false);
            }
            sums = sums + run(r.clone(), true);
            at = r.end;
        }
        if at < n {
            run(at..n, false);
        }
        Ok(sums)
    }
}

/// The three state buffers of `n` parameters, from `slots` back to back.
fn split_slots<T>(slots: &mut [T], n: usize) -> Result<[&mut [T]; 3]> {
    check_len("optimizer state", slots.len(), 3 * n)?;
    let (s0, rest) = slots.split_at_mut(n);
    let (s1, s2) = rest.split_at_mut(n);
    Ok([s0, s1, s2])
}

/// How the learning rate moves from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// `base / (samples_seen + 1)^power_t` (scikit-learn's invscaling).
    InvScaling {
        /// The exponent of the decay.
        power_t: f64,
    },
    /// The base rate, divided by 5 on each plateau (scikit-learn's adaptive).
    Adaptive,
    /// `base · gamma^⌊epoch / step_size⌋` (PyTorch's StepLR).
    Step {
        /// Epochs between two decays (0 counts as 1).
        step_size: u64,
        /// The factor of each decay.
        gamma: f64,
    },
    /// `eta_min + (base − eta_min)(1 + cos(π·epoch/t_max))/2` (PyTorch's cosine).
    Cosine {
        /// Epochs from the base rate down to `eta_min` (0 counts as 1).
        t_max: u64,
        /// The lowest rate, reached at epoch `t_max`.
        eta_min: f64,
    },
}

impl Schedule {
    /// The learning rate of an epoch.
    pub fn rate(&self, base: f64, epoch: u64, samples_seen: u64) -> f64 {
        match *self {
            Schedule::Constant | Schedule::Adaptive => base,
            Schedule::InvScaling { power_t } => base / ((samples_seen as f64) + 1.0).powf(power_t),
            Schedule::Step { step_size, gamma } => {
                base * gamma.powf((epoch / step_size.max(1)) as f64)
            }
            Schedule::Cosine { t_max, eta_min } => {
                let phase = std::f64::consts::PI * epoch as f64 / t_max.max(1) as f64;
                eta_min + (base - eta_min) * (1.0 + phase.cos()) / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_steps(opt: Optimizer) -> Vec<f64> {
        let mut p = vec![1.0, -2.0];
        let mut slots = vec![0.0; 6];
        opt.step(
            &mut p,
            &[0.5, -1.0],
            &mut slots,
            0.1,
            1,
            &[0..2],
            Par::SERIAL,
        )
        .unwrap();
        opt.step(
            &mut p,
            &[0.25, 0.5],
            &mut slots,
            0.1,
            2,
            &[0..2],
            Par::SERIAL,
        )
        .unwrap();
        p
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
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

    #[test]
    fn adam_first_step_moves_each_weight_by_lr() {
        // After one step m̂ = g and v̂ = g², so the move is lr·g/(|g| + ε).
        let mut p = vec![1.0, -2.0];
        let mut slots = vec![0.0; 6];
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay: 0.0,
        };
        adam.step(&mut p, &[0.5, -1.0], &mut slots, 0.1, 1, &[], Par::SERIAL)
            .unwrap();
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
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay: 0.0,
        };
        let p = two_steps(adam);
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
    fn rmsprop_first_step_by_hand() {
        let mut p = vec![1.0];
        let mut slots = vec![0.0; 3];
        let rms = Optimizer::RmsProp {
            rho: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        };
        rms.step(&mut p, &[0.5], &mut slots, 0.01, 1, &[], Par::SERIAL)
            .unwrap();
        // sq = 0.01·0.25 → √sq = 0.05.
        close(&p, &[1.0 - 0.01 * 0.5 / (0.05 + 1e-8)]);
    }

    #[test]
    fn adamw_decays_only_listed_ranges() {
        let mut p = vec![1.0, 1.0];
        let mut slots = vec![0.0; 6];
        let adamw = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay: 0.5,
        };
        adamw
            .step(
                &mut p,
                &[0.0, 0.0],
                &mut slots,
                0.1,
                1,
                &[0..1],
                Par::SERIAL,
            )
            .unwrap();
        close(&p, &[0.95, 1.0]);
    }

    #[test]
    fn schedules_by_hand() {
        assert_eq!(
            Schedule::Step {
                step_size: 2,
                gamma: 0.5
            }
            .rate(1.0, 5, 0),
            0.25
        );
        assert!(
            (Schedule::Cosine {
                t_max: 10,
                eta_min: 0.0
            }
            .rate(1.0, 5, 0)
                - 0.5)
                .abs()
                < 1e-15
        );
        assert_eq!(Schedule::InvScaling { power_t: 0.5 }.rate(1.0, 3, 3), 0.5);
    }

    #[test]
    fn mismatched_state_is_an_error() {
        let mut p = vec![0.0; 2];
        let mut slots = vec![0.0; 5];
        let sgd = Optimizer::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        assert!(sgd
            .step(&mut p, &[0.0, 0.0], &mut slots, 0.1, 1, &[], Par::SERIAL)
            .is_err());
    }

    /// Every solver configuration whose state a penalized step touches.
    fn all_solvers() -> Vec<Optimizer> {
        let adam = |amsgrad, weight_decay| Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad,
            weight_decay,
        };
        let rms = |momentum, centered| Optimizer::RmsProp {
            rho: 0.99,
            eps: 1e-8,
            momentum,
            centered,
        };
        vec![
            Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            rms(0.0, false),
            rms(0.9, true),
            adam(false, 0.0),
            adam(true, 0.01),
        ]
    }

    #[test]
    fn a_penalized_step_equals_the_penalty_in_the_gradient_then_a_step() {
        use crate::parallel::{run_with_threads, BLOCK_ELEMENTS};
        // Weight runs of several blocks and pieces, with a ragged end, between
        // bias-like runs; enough elements for the parallel path.
        let n = 3 * BLOCK_ELEMENTS + 1000;
        let weights = [5..2 * BLOCK_ELEMENTS + 77, 2 * BLOCK_ELEMENTS + 90..n - 3];
        let params: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) * 1e-3)
            .collect();
        let grad: Vec<f32> = (0..n)
            .map(|i| ((i * 104_729 % 999) as f32 - 499.0) * 1e-4)
            .collect();
        for opt in all_solvers() {
            for l1 in [0.0, 3e-4] {
                let penalty = Penalty::new(1e-2, l1, 64.0f32).unwrap();
                // The backward pass's way: penalty into the gradient, then a step.
                let (mut p1, mut s1, mut g1) = (params.clone(), vec![0.1f32; 3 * n], grad.clone());
                let mut sums1 = WeightSums::default();
                for r in &weights {
                    let (w, g) = (&p1[r.clone()], &mut g1[r.clone()]);
                    sums1 = sums1 + penalty.add_gradient(w, g, Par::SERIAL);
                }
                opt.step(&mut p1, &g1, &mut s1, 0.05, 3, &weights, Par::SERIAL)
                    .unwrap();
                for threads in [1, 2] {
                    let (mut p2, mut s2) = (params.clone(), vec![0.1f32; 3 * n]);
                    let par = Par { threads };
                    let sums2 = run_with_threads(threads, || {
                        opt.step_penalized(&mut p2, &grad, &mut s2, 0.05, 3, &weights, penalty, par)
                    })
                    .unwrap()
                    .unwrap();
                    let what = format!("{opt:?}, l1 {l1}, {threads} threads");
                    assert!(
                        p1.iter().zip(&p2).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what}"
                    );
                    assert!(
                        s1.iter().zip(&s2).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what}"
                    );
                    assert_eq!(sums1, sums2, "{what}");
                }
            }
        }
    }

    #[test]
    fn weight_ranges_out_of_order_or_overlapping_are_errors() {
        let sgd = Optimizer::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        for weights in [[2..4, 0..1], [0..3, 2..4]] {
            let (mut p, mut slots) = (vec![0.0; 4], vec![0.0; 12]);
            let err = sgd.step(&mut p, &[0.1; 4], &mut slots, 0.1, 1, &weights, Par::SERIAL);
            assert!(matches!(err, Err(FnnError::Shape(_))), "{weights:?}");
        }
    }
}
