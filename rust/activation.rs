//! Hidden-layer activations and their derivatives (spec section 3).
//!
//! Derivatives are written in terms of the activation's output, so the forward
//! pass need not keep pre-activations.

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::simd::Kernel;

/// A hidden layer's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// f(z) = z.
    Identity,
    /// f(z) = 1 / (1 + e^-z), evaluated without overflow.
    Sigmoid,
    /// f(z) = tanh z.
    Tanh,
    /// f(z) = max(z, 0).
    Relu,
    /// f(z) = z for z > 0, else `slope`·z (slope ≥ 0).
    LeakyRelu {
        /// The gradient for negative inputs (scikit-learn's `negative_slope`).
        slope: f64,
    },
}

impl Activation {
    /// Parses a name (`"logistic"` is scikit-learn's name for sigmoid).
    pub fn parse(name: &str, slope: f64) -> Result<Self> {
        Ok(match name {
            "identity" => Activation::Identity,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" => {
                if !(slope >= 0.0 && slope.is_finite()) {
                    return Err(FnnError::Config(format!(
                        "negative_slope must be a finite number >= 0, got {slope}"
                    )));
                }
                Activation::LeakyRelu { slope }
            }
            other => {
                return Err(FnnError::Config(format!(
                    "unknown activation {other:?}; expected identity, sigmoid, tanh, relu or leaky_relu"
                )))
            }
        })
    }

    /// Replaces every pre-activation in `z` by its activation.
    pub fn apply<T: Float>(self, z: &mut [T]) {
        crate::simd::dispatch(Apply { act: self, z });
    }

    /// f'(z) given the output `a = f(z)`.
    #[inline(always)]
    pub fn derivative<T: Float>(self, a: T) -> T {
        match self {
            Activation::Identity => T::one(),
            Activation::Sigmoid => a * (T::one() - a),
            Activation::Tanh => T::one() - a * a,
            Activation::Relu => {
                if a > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::LeakyRelu { slope } => {
                if a > T::zero() {
                    T::one()
                } else {
                    T::of(slope)
                }
            }
        }
    }

    /// `delta[i] *= f'(z_i)` given the outputs `a`.
    pub fn multiply_derivative<T: Float>(self, a: &[T], delta: &mut [T]) {
        if self == Activation::Identity {
            return;
        }
        crate::simd::dispatch(MultiplyDerivative {
            act: self,
            a,
            delta,
        });
    }
}

/// [`Activation::apply`] as a dispatched kernel.
struct Apply<'a, T> {
    act: Activation,
    z: &'a mut [T],
}

impl<T: Float> Kernel for Apply<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let z = self.z;
        match self.act {
            Activation::Identity => {}
            Activation::Sigmoid => z.iter_mut().for_each(|v| *v = sigmoid(*v)),
            Activation::Tanh => z.iter_mut().for_each(|v| *v = v.tanh()),
            // Selects, not branches (random signs mispredict half the time),
            // and not `max`, which would turn NaN into 0 and hide it (NumPy
            // keeps it). Eight at a time through a buffer stored whole: a
            // select written straight back is a store only where `v < 0`,
            // which the compiler leaves scalar (see BENCHMARKS.md,
            // "Measurements behind the code's constants").
            Activation::Relu => {
                let relu = |v: T| if v < T::zero() { T::zero() } else { v };
                let mut chunks = z.chunks_exact_mut(8);
                for chunk in &mut chunks {
                    let values: [T; 8] = std::array::from_fn(|i| relu(chunk[i]));
                    chunk.copy_from_slice(&values);
                }
                chunks
                    .into_remainder()
                    .iter_mut()
                    .for_each(|v| *v = relu(*v));
            }
            Activation::LeakyRelu { slope } => {
                let s = T::of(slope);
                z.iter_mut()
                    .for_each(|v| *v = if *v <= T::zero() { *v * s } else { *v })
            }
        }
    }
}

/// [`Activation::multiply_derivative`] as a dispatched kernel.
struct MultiplyDerivative<'a, T> {
    act: Activation,
    a: &'a [T],
    delta: &'a mut [T],
}

impl<T: Float> Kernel for MultiplyDerivative<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let act = self.act;
        for (d, &v) in self.delta.iter_mut().zip(self.a) {
            *d *= act.derivative(v);
        }
    }
}

/// The logistic function, never evaluating e^x for large positive x.
#[inline(always)]
pub fn sigmoid<T: Float>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_derivative(act: Activation, z: f64) -> f64 {
        let h = 1e-6;
        let mut up = [z + h];
        let mut down = [z - h];
        act.apply(&mut up);
        act.apply(&mut down);
        (up[0] - down[0]) / (2.0 * h)
    }

    /// ReLU keeps NaN and −0 and zeroes negatives, whatever the slice
    /// length (whole chunks of eight and the rest).
    fn relu_keeps_nan_and_negative_zero<T: Float>() {
        let specials = [
            T::of(f64::NAN),
            T::of(-0.0),
            T::of(0.0),
            T::of(-1.5),
            T::of(2.5),
            T::neg_infinity(),
            T::of(f64::INFINITY),
            T::of(-1e-30),
        ];
        for len in [1, 7, 8, 9, 17, 24] {
            let src: Vec<T> = (0..len)
                .map(|i| specials[(i * 5) % specials.len()])
                .collect();
            let mut z = src.clone();
            Activation::Relu.apply(&mut z);
            for (out, x) in z.iter().zip(&src) {
                let expected = if *x < T::zero() { T::zero() } else { *x };
                assert!(
                    out.f64().to_bits() == expected.f64().to_bits(),
                    "{} -> {}",
                    x.f64(),
                    out.f64()
                );
            }
        }
    }

    #[test]
    fn relu_keeps_nan_and_negative_zero_in_both_precisions() {
        relu_keeps_nan_and_negative_zero::<f32>();
        relu_keeps_nan_and_negative_zero::<f64>();
    }

    #[test]
    fn derivatives_from_outputs_match_finite_differences() {
        let acts = [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu { slope: 0.1 },
        ];
        for act in acts {
            for z in [-2.5, -0.3, 0.4, 1.7] {
                let mut a = [z];
                act.apply(&mut a);
                let exact = act.derivative(a[0]);
                let numeric = numeric_derivative(act, z);
                assert!(
                    (exact - numeric).abs() < 1e-8,
                    "{act:?} at {z}: {exact} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn sigmoid_is_finite_and_saturates_at_extremes() {
        let mut z = [-1000.0f64, 1000.0, 0.0];
        Activation::Sigmoid.apply(&mut z);
        assert_eq!(z, [0.0, 1.0, 0.5]);
        let mut z32 = [-200.0f32, 200.0];
        Activation::Sigmoid.apply(&mut z32);
        assert_eq!(z32, [0.0, 1.0]);
    }

    #[test]
    fn relu_derivative_at_zero_is_zero_like_scikit_learn() {
        assert_eq!(Activation::Relu.derivative(0.0f64), 0.0);
        assert_eq!(
            Activation::LeakyRelu { slope: 0.01 }.derivative(0.0f64),
            0.01
        );
    }

    #[test]
    fn unknown_names_and_negative_slopes_are_errors() {
        assert!(Activation::parse("softsign", 0.0).is_err());
        assert!(Activation::parse("leaky_relu", -0.5).is_err());
        assert_eq!(Activation::parse("logistic", 0.0), Ok(Activation::Sigmoid));
    }
}
