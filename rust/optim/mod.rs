//! Optimizers (spec section 6) and learning-rate schedules (section 7),
//! following PyTorch's documented update rules.
//!
//! [`Optimizer::update`] is the one step entry point, for the training loop
//! and the binding's single steps alike. State lives in three caller-owned
//! slots shaped like the parameters, so the Python side can pickle it and
//! warm-start from it. Each rule has its file (`sgd`, `rmsprop`, `adam`);
//! `step` runs one as an element-wise pass with the penalty folded in.

mod adam;
mod rmsprop;
mod schedule;
mod sgd;
mod step;

use std::ops::Range;

use crate::error::{check_len, FnnError, Result};
use crate::float::Float;
use crate::parallel::Par;
use crate::penalty::{Penalty, WeightSums};

use adam::{Adam, AdamStep};
use rmsprop::RmsProp;
pub use schedule::Schedule;
use sgd::Sgd;
use step::Step;

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

/// The optimizer's state as a caller holds it: one buffer with the three
/// slots back to back (the training loop's `[T]`), or the three slots apart
/// (the binding's `[&mut [T]; 3]`, one NumPy array each).
pub trait State<T> {
    /// The three slots, for `n` parameters: `Err` when the buffer cannot
    /// hold them (each slot's length is checked by the step).
    fn slots(&mut self, n: usize) -> Result<[&mut [T]; 3]>;
}

impl<T> State<T> for [T] {
    fn slots(&mut self, n: usize) -> Result<[&mut [T]; 3]> {
        check_len("optimizer state", self.len(), 3 * n)?;
        let (s0, rest) = self.split_at_mut(n);
        let (s1, s2) = rest.split_at_mut(n);
        Ok([s0, s1, s2])
    }
}

impl<T> State<T> for [&mut [T]; 3] {
    fn slots(&mut self, _n: usize) -> Result<[&mut [T]; 3]> {
        let [s0, s1, s2] = self;
        Ok([&mut **s0, &mut **s1, &mut **s2])
    }
}

impl Optimizer {
    /// Adam at PyTorch's and scikit-learn's defaults: β1 0.9, β2 0.999,
    /// ε 1e-8, no AMSGrad, no decay.
    pub const ADAM: Optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        amsgrad: false,
        weight_decay: 0.0,
    };

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

    /// One update of `params` with gradient `grad` and state `slots`: the one
    /// step entry point. `t` is the 1-based step number; `weights` lists the
    /// ranges of the weights (in order, apart), where AdamW's decay applies
    /// and where `penalty`, if given, adds its gradient as the step reads
    /// `grad` (then the gradient of the data term alone), as the backward
    /// pass would have added it. Returns the penalty's sums over the weights
    /// before the step (zero without a penalty). Every parameter is updated
    /// on its own, so sharing the work among `par`'s threads changes no result.
    #[allow(clippy::too_many_arguments)]
    pub fn update<T: Float, S: State<T> + ?Sized>(
        &self,
        params: &mut [T],
        grad: &[T],
        slots: &mut S,
        lr: f64,
        t: u64,
        weights: &[Range<usize>],
        penalty: Option<Penalty<T>>,
        par: Par,
    ) -> Result<WeightSums> {
        let n = params.len();
        let [s0, s1, s2] = slots.slots(n)?;
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
        if t == 0 {
            return Err(FnnError::Config(
                "the step number is 1-based: the first step is step 1".into(),
            ));
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
        // Adam's bias corrections, made by the first run for all of them.
        let mut adam_step = None;
        // The step, run by run: each weight range with the penalty and the
        // decay, the parameters between them without.
        let mut run = |range: Range<usize>, on_weights: bool| {
            let params = &mut params[range.clone()];
            let slots = [
                &mut s0[range.clone()],
                &mut s1[range.clone()],
                &mut s2[range.clone()],
            ];
            let grad = &grad[range];
            let penalty = penalty.filter(|_| on_weights);
            let shrink = shrink.filter(|_| on_weights);
            match *self {
                Optimizer::Sgd { momentum, nesterov } => {
                    let rule = Sgd::new(params, slots, lr, momentum, nesterov);
                    Step::new(rule, grad, penalty, shrink).run(par)
                }
                Optimizer::RmsProp {
                    rho,
                    eps,
                    momentum,
                    centered,
                } => {
                    let rule = RmsProp::new(params, slots, lr, rho, eps, momentum, centered);
                    Step::new(rule, grad, penalty, shrink).run(par)
                }
                Optimizer::Adam {
                    beta1,
                    beta2,
                    eps,
                    amsgrad,
                    ..
                } => {
                    let step =
                        *adam_step.get_or_insert_with(|| AdamStep::new(lr, t, (beta1, beta2)));
                    let rule = Adam::new(params, slots, step, (beta1, beta2), eps, amsgrad);
                    Step::new(rule, grad, penalty, shrink).run(par)
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

/// What the optimizers' tests share: steps without a penalty, a comparison
/// to a tolerance, and the fixed problem of the PyTorch comparisons.
///
/// The expected trajectories in `sgd`, `rmsprop` and `adam` were computed
/// once with PyTorch 2.15 (`torch.optim`, float64) by this snippet, each
/// test naming the optimizer it built (`make`):
///
/// ```python
/// import torch
/// torch.set_default_dtype(torch.float64)
/// GRADS = [[0.5, -1.0, 0.25], [0.3, 0.8, -0.6], [-0.2, 0.4, 0.9],
///          [1.5, -0.7, 0.05], [-0.9, 0.1, -0.3]]
///
/// def trajectory(make, lrs=(None,) * 5):
///     w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
///     opt = make([w])
///     out = []
///     for g, lr in zip(GRADS, lrs):
///         if lr is not None:
///             opt.param_groups[0]["lr"] = lr
///         w.grad = torch.tensor(g)
///         opt.step()
///         out.append(w.detach().tolist())
///     return out
///
/// def trajectory_groups(make):  # two weights decayed, the third a bias that is not
///     w = torch.tensor([1.0, -2.0], requires_grad=True)
///     b = torch.tensor([0.5], requires_grad=True)
///     opt = make(w, b)
///     out = []
///     for g in GRADS:
///         w.grad, b.grad = torch.tensor(g[:2]), torch.tensor(g[2:])
///         opt.step()
///         out.append(w.detach().tolist() + b.detach().tolist())
///     return out
///
/// for step in trajectory(make):  # printed with repr(), 17 digits
///     print(step)
/// ```
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// The parameters the PyTorch comparisons start from.
    pub const START: [f64; 3] = [1.0, -2.0, 0.5];

    /// The five gradients of the PyTorch comparisons, one per step.
    pub const GRADS: [[f64; 3]; 5] = [
        [0.5, -1.0, 0.25],
        [0.3, 0.8, -0.6],
        [-0.2, 0.4, 0.9],
        [1.5, -0.7, 0.05],
        [-0.9, 0.1, -0.3],
    ];

    /// The parameters after each step of `opt` from [`START`] over
    /// [`GRADS`], at rate `lrs[t]` for step `t`, with AdamW's decay and an L2
    /// penalty of strength `alpha` (batch weight 1) on the `weights` ranges.
    pub fn trajectory(
        opt: Optimizer,
        lrs: [f64; 5],
        weights: &[Range<usize>],
        alpha: f64,
    ) -> [[f64; 3]; 5] {
        let mut params = START;
        let mut slots = [0.0; 9];
        let penalty = Penalty::new(alpha, 0.0, 1.0);
        let mut out = [[0.0; 3]; 5];
        for (t, (grad, after)) in GRADS.iter().zip(&mut out).enumerate() {
            let (p, s) = (&mut params[..], &mut slots[..]);
            opt.update(
                p,
                grad,
                s,
                lrs[t],
                t as u64 + 1,
                weights,
                penalty,
                Par::SERIAL,
            )
            .unwrap();
            *after = params;
        }
        out
    }

    /// Asserts that two trajectories agree step by step within `1e-12`.
    pub fn assert_trajectory(actual: &[[f64; 3]; 5], expected: &[[f64; 3]; 5]) {
        for (t, (a, e)) in actual.iter().zip(expected).enumerate() {
            let worst = a
                .iter()
                .zip(e)
                .map(|(a, e)| (a - e).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-12, "step {}: {a:?} vs {e:?}", t + 1);
        }
    }

    /// One step of `opt`, without a penalty, on one thread; `decayed` lists
    /// the ranges AdamW's decay applies to.
    pub fn step(
        opt: Optimizer,
        params: &mut [f64],
        grad: &[f64],
        slots: &mut [f64],
        (lr, t): (f64, u64),
        decayed: &[Range<usize>],
    ) -> Result<()> {
        opt.update(params, grad, slots, lr, t, decayed, None, Par::SERIAL)
            .map(drop)
    }

    /// The parameters `[1, −2]` after two steps (gradients `[0.5, −1]` and
    /// `[0.25, 0.5]`, rate 0.1), every parameter decayed.
    pub fn two_steps(opt: Optimizer) -> Vec<f64> {
        let mut p = vec![1.0, -2.0];
        let mut slots = vec![0.0; 6];
        step(opt, &mut p, &[0.5, -1.0], &mut slots, (0.1, 1), &[0..2]).unwrap();
        step(opt, &mut p, &[0.25, 0.5], &mut slots, (0.1, 2), &[0..2]).unwrap();
        p
    }

    /// Asserts that `a` and `b` agree element by element within `1e-12`.
    pub fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::step;
    use super::*;

    #[test]
    fn mismatched_state_is_an_error() {
        let mut p = vec![0.0; 2];
        let mut slots = vec![0.0; 5];
        let sgd = Optimizer::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        assert!(step(sgd, &mut p, &[0.0, 0.0], &mut slots, (0.1, 1), &[]).is_err());
    }

    #[test]
    fn three_state_buffers_apart_step_as_one_buffer_does() {
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: true,
            weight_decay: 0.1,
        };
        let (mut p1, mut p2) = (vec![1.0, -2.0, 3.0], vec![1.0, -2.0, 3.0]);
        let mut flat = vec![0.0; 9];
        let (mut m, mut v, mut vmax) = (vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]);
        for (t, g) in [[0.5, -1.0, 0.1], [0.25, 0.5, -0.3]].iter().enumerate() {
            let t = t as u64 + 1;
            step(adam, &mut p1, g, &mut flat, (0.1, t), &[0..2]).unwrap();
            let mut apart = [&mut m[..], &mut v[..], &mut vmax[..]];
            adam.update(&mut p2, g, &mut apart, 0.1, t, &[0..2], None, Par::SERIAL)
                .unwrap();
        }
        assert_eq!(p1, p2);
        assert_eq!(flat, [m, v, vmax].concat());
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
                opt.update(
                    &mut p1,
                    &g1,
                    &mut s1[..],
                    0.05,
                    3,
                    &weights,
                    None,
                    Par::SERIAL,
                )
                .unwrap();
                for threads in [1, 2] {
                    let (mut p2, mut s2) = (params.clone(), vec![0.1f32; 3 * n]);
                    let par = Par { threads };
                    let sums2 = run_with_threads(threads, || {
                        let (p, s) = (&mut p2, &mut s2[..]);
                        opt.update(p, &grad, s, 0.05, 3, &weights, Some(penalty), par)
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
            let err = step(sgd, &mut p, &[0.1; 4], &mut slots, (0.1, 1), &weights);
            assert!(matches!(err, Err(FnnError::Shape(_))), "{weights:?}");
        }
    }
}
