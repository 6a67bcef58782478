//! Optimizers and learning-rate schedules (spec sections 6 and 7), following
//! PyTorch's documented update rules.
//!
//! State lives in three caller-owned slots shaped like the parameters, so the
//! Python side can pickle it and warm-start from it.

use std::ops::Range;

use crate::error::{check_len, FnnError, Result};
use crate::float::Float;

/// An update rule with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Slot 0 = momentum buffer.
    /// `buf = μ·buf + g; d = g + μ·buf (Nesterov) or buf; θ −= lr·d` (plain: `d = g`).
    Sgd { momentum: f64, nesterov: bool },
    /// Slots: 0 = square average, 1 = gradient average (centered), 2 = momentum.
    /// `sq = ρ·sq + (1−ρ)·g²; den = √max(sq − avg², 0) + ε (centered) or √sq + ε;`
    /// `buf = μ·buf + g/den; θ −= lr·buf` (without momentum `θ −= lr·g/den`).
    RmsProp {
        rho: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
    },
    /// Slots: 0 = m, 1 = v, 2 = max v (AMSGrad).
    /// `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;`
    /// `θ −= (lr/(1−β1^t))·m / (√v̂/√(1−β2^t) + ε)`, v̂ = max v with AMSGrad.
    /// With `weight_decay > 0` (AdamW) weights first shrink: `W −= lr·λ·W`.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        amsgrad: bool,
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
    /// lists the ranges AdamW's weight decay applies to.
    pub fn step<T: Float>(
        &self,
        params: &mut [T],
        grad: &[T],
        slots: &mut [T],
        lr: f64,
        t: u64,
        decayed: &[Range<usize>],
    ) -> Result<()> {
        let n = params.len();
        check_len("optimizer state", slots.len(), 3 * n)?;
        let (s0, rest) = slots.split_at_mut(n);
        let (s1, s2) = rest.split_at_mut(n);
        self.step_with([s0, s1, s2], params, grad, lr, t, decayed)
    }

    /// [`Optimizer::step`] with the three state buffers given separately.
    pub fn step_with<T: Float>(
        &self,
        [s0, s1, s2]: [&mut [T]; 3],
        params: &mut [T],
        grad: &[T],
        lr: f64,
        t: u64,
        decayed: &[Range<usize>],
    ) -> Result<()> {
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
        if decayed.iter().any(|r| r.end > n) {
            return Err(FnnError::Shape(
                "a weight-decay range lies outside the parameters".into(),
            ));
        }
        let lr_t = T::of(lr);
        match *self {
            Optimizer::Sgd { momentum, nesterov } => {
                if momentum == 0.0 {
                    params
                        .iter_mut()
                        .zip(grad)
                        .for_each(|(p, &g)| *p -= lr_t * g);
                } else {
                    let mu = T::of(momentum);
                    for ((p, &g), b) in params.iter_mut().zip(grad).zip(s0.iter_mut()) {
                        *b = mu * *b + g;
                        let d = if nesterov { g + mu * *b } else { *b };
                        *p -= lr_t * d;
                    }
                }
            }
            Optimizer::RmsProp {
                rho,
                eps,
                momentum,
                centered,
            } => {
                let (r, one_minus_r, e, mu) =
                    (T::of(rho), T::of(1.0 - rho), T::of(eps), T::of(momentum));
                for i in 0..n {
                    let g = grad[i];
                    s0[i] = r * s0[i] + one_minus_r * g * g;
                    let den = if centered {
                        s1[i] = r * s1[i] + one_minus_r * g;
                        // Rounding can push the variance a hair below zero: clamp it.
                        (s0[i] - s1[i] * s1[i]).max(T::zero()).sqrt() + e
                    } else {
                        s0[i].sqrt() + e
                    };
                    if momentum > 0.0 {
                        s2[i] = mu * s2[i] + g / den;
                        params[i] -= lr_t * s2[i];
                    } else {
                        params[i] -= lr_t * g / den;
                    }
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                amsgrad,
                weight_decay,
            } => {
                if weight_decay > 0.0 {
                    let shrink = T::of(lr * weight_decay);
                    for range in decayed {
                        params[range.clone()]
                            .iter_mut()
                            .for_each(|p| *p -= shrink * *p);
                    }
                }
                let tf = t as f64;
                let step_size = T::of(lr / (1.0 - beta1.powf(tf)));
                let sqrt_bc2 = T::of((1.0 - beta2.powf(tf)).sqrt());
                let (b1, b2) = (T::of(beta1), T::of(beta2));
                let (one_minus_b1, one_minus_b2, e) =
                    (T::of(1.0 - beta1), T::of(1.0 - beta2), T::of(eps));
                for i in 0..n {
                    let g = grad[i];
                    s0[i] = b1 * s0[i] + one_minus_b1 * g;
                    s1[i] = b2 * s1[i] + one_minus_b2 * g * g;
                    let v = if amsgrad {
                        s2[i] = s2[i].max(s1[i]);
                        s2[i]
                    } else {
                        s1[i]
                    };
                    params[i] -= step_size * s0[i] / (v.sqrt() / sqrt_bc2 + e);
                }
            }
        }
        Ok(())
    }
}

/// How the learning rate moves from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// `base / (samples_seen + 1)^power_t` (scikit-learn's invscaling).
    InvScaling { power_t: f64 },
    /// The base rate, divided by 5 on each plateau (scikit-learn's adaptive).
    Adaptive,
    /// `base · gamma^⌊epoch / step_size⌋` (PyTorch's StepLR).
    Step { step_size: u64, gamma: f64 },
    /// `eta_min + (base − eta_min)(1 + cos(π·epoch/t_max))/2` (PyTorch's cosine).
    Cosine { t_max: u64, eta_min: f64 },
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
        opt.step(&mut p, &[0.5, -1.0], &mut slots, 0.1, 1, &[0..2])
            .unwrap();
        opt.step(&mut p, &[0.25, 0.5], &mut slots, 0.1, 2, &[0..2])
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
        adam.step(&mut p, &[0.5, -1.0], &mut slots, 0.1, 1, &[])
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
        rms.step(&mut p, &[0.5], &mut slots, 0.01, 1, &[]).unwrap();
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
            .step(&mut p, &[0.0, 0.0], &mut slots, 0.1, 1, &[0..1])
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
            .step(&mut p, &[0.0, 0.0], &mut slots, 0.1, 1, &[])
            .is_err());
    }
}
