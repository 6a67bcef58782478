//! Optimizers and learning-rate schedules (spec sections 6 and 7), following
//! PyTorch's documented update rules.
//!
//! State lives in three caller-owned slots shaped like the parameters, so the
//! Python side can pickle it and warm-start from it.

use std::ops::Range;

use crate::error::{check_len, FnnError, Result};
use crate::float::Float;
use crate::parallel::{Divisible, Par};
use crate::simd::{dispatch, Kernel};

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
    /// lists the ranges AdamW's weight decay applies to. Every parameter is
    /// updated on its own, so sharing the work among `par`'s threads changes
    /// no result.
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
        let n = params.len();
        check_len("optimizer state", slots.len(), 3 * n)?;
        let (s0, rest) = slots.split_at_mut(n);
        let (s1, s2) = rest.split_at_mut(n);
        self.step_with([s0, s1, s2], params, grad, lr, t, decayed, par)
    }

    /// [`Optimizer::step`] with the three state buffers given separately.
    #[allow(clippy::too_many_arguments)]
    pub fn step_with<T: Float>(
        &self,
        [s0, s1, s2]: [&mut [T]; 3],
        params: &mut [T],
        grad: &[T],
        lr: f64,
        t: u64,
        decayed: &[Range<usize>],
        par: Par,
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
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(FnnError::Config(format!(
                "the learning rate must be finite and >= 0, got {lr}"
            )));
        }
        if decayed.iter().any(|r| r.start > r.end || r.end > n) {
            return Err(FnnError::Shape(
                "a weight-decay range lies outside the parameters".into(),
            ));
        }
        let lr = T::of(lr);
        match *self {
            Optimizer::Sgd { momentum, nesterov } => divided(
                par,
                SgdKernel {
                    params,
                    grad,
                    buf: s0,
                    lr,
                    momentum: T::of(momentum),
                    nesterov,
                },
            ),
            Optimizer::RmsProp {
                rho,
                eps,
                momentum,
                centered,
            } => divided(
                par,
                RmsPropKernel {
                    params,
                    grad,
                    sq: s0,
                    avg: centered.then_some(s1),
                    buf: (momentum > 0.0).then_some(s2),
                    lr,
                    rho: T::of(rho),
                    one_minus_rho: T::of(1.0 - rho),
                    eps: T::of(eps),
                    momentum: T::of(momentum),
                },
            ),
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                amsgrad,
                weight_decay,
            } => {
                if weight_decay > 0.0 {
                    let shrink = lr * T::of(weight_decay);
                    for range in decayed {
                        params[range.clone()]
                            .iter_mut()
                            .for_each(|p| *p -= shrink * *p);
                    }
                }
                let tf = t as f64;
                let lr64 = lr.f64();
                divided(
                    par,
                    AdamKernel {
                        params,
                        grad,
                        m: s0,
                        v: s1,
                        vmax: amsgrad.then_some(s2),
                        step_size: T::of(lr64 / (1.0 - beta1.powf(tf))),
                        sqrt_bc2: T::of((1.0 - beta2.powf(tf)).sqrt()),
                        beta1: T::of(beta1),
                        beta2: T::of(beta2),
                        one_minus_b1: T::of(1.0 - beta1),
                        one_minus_b2: T::of(1.0 - beta2),
                        eps: T::of(eps),
                    },
                )
            }
        }
        Ok(())
    }
}

/// Runs an element-wise update on `par`'s threads, block by block.
fn divided<K: Kernel + Divisible>(par: Par, kernel: K) {
    par.divide(kernel, &dispatch::<K>, &|(), ()| ());
}

/// Both halves of an optional buffer cut at `mid`.
fn cut_optional<T>(buf: Option<&mut [T]>, mid: usize) -> (Option<&mut [T]>, Option<&mut [T]>) {
    buf.map(|b| b.split_at_mut(mid)).unzip()
}

struct SgdKernel<'a, T> {
    params: &'a mut [T],
    grad: &'a [T],
    buf: &'a mut [T],
    lr: T,
    momentum: T,
    nesterov: bool,
}

impl<T: Float> Divisible for SgdKernel<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (g, h) = self.grad.split_at(mid);
        let (b, c) = self.buf.split_at_mut(mid);
        let half = |params, grad, buf| SgdKernel {
            params,
            grad,
            buf,
            ..self
        };
        (half(p, g, b), half(q, h, c))
    }
}

impl<T: Float> Kernel for SgdKernel<'_, T> {
    #[inline(always)]
    fn run(self) {
        let SgdKernel {
            params,
            grad,
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

struct RmsPropKernel<'a, T> {
    params: &'a mut [T],
    grad: &'a [T],
    sq: &'a mut [T],
    /// Present when centered.
    avg: Option<&'a mut [T]>,
    /// Present with momentum.
    buf: Option<&'a mut [T]>,
    lr: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
    momentum: T,
}

impl<T: Float> Divisible for RmsPropKernel<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (g, h) = self.grad.split_at(mid);
        let (sq, sq2) = self.sq.split_at_mut(mid);
        let (avg, avg2) = cut_optional(self.avg, mid);
        let (buf, buf2) = cut_optional(self.buf, mid);
        let half = |params, grad, sq, avg, buf| RmsPropKernel {
            params,
            grad,
            sq,
            avg,
            buf,
            ..self
        };
        (half(p, g, sq, avg, buf), half(q, h, sq2, avg2, buf2))
    }
}

impl<T: Float> Kernel for RmsPropKernel<'_, T> {
    #[inline(always)]
    fn run(self) {
        let RmsPropKernel {
            params,
            grad,
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

struct AdamKernel<'a, T> {
    params: &'a mut [T],
    grad: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    /// Present with AMSGrad.
    vmax: Option<&'a mut [T]>,
    step_size: T,
    sqrt_bc2: T,
    beta1: T,
    beta2: T,
    one_minus_b1: T,
    one_minus_b2: T,
    eps: T,
}

impl<T: Float> Divisible for AdamKernel<'_, T> {
    fn elements(&self) -> usize {
        self.params.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p, q) = self.params.split_at_mut(mid);
        let (g, h) = self.grad.split_at(mid);
        let (m, m2) = self.m.split_at_mut(mid);
        let (v, v2) = self.v.split_at_mut(mid);
        let (vmax, vmax2) = cut_optional(self.vmax, mid);
        let half = |params, grad, m, v, vmax| AdamKernel {
            params,
            grad,
            m,
            v,
            vmax,
            ..self
        };
        (half(p, g, m, v, vmax), half(q, h, m2, v2, vmax2))
    }
}

impl<T: Float> Kernel for AdamKernel<'_, T> {
    #[inline(always)]
    fn run(self) {
        let AdamKernel {
            params,
            grad,
            m,
            v,
            vmax,
            step_size,
            sqrt_bc2,
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
                    *p -= step_size * *m / (v.sqrt() / sqrt_bc2 + eps);
                }
            }
            Some(vmax) => {
                for (((p, &g), (m, v)), vm) in params.iter_mut().zip(grad).zip(moments).zip(vmax) {
                    *m = beta1 * *m + one_minus_b1 * g;
                    *v = beta2 * *v + one_minus_b2 * g * g;
                    *vm = vm.max(*v);
                    *p -= step_size * *m / (vm.sqrt() / sqrt_bc2 + eps);
                }
            }
        }
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
}
