//! `exp` over a slice without a library call per element.
//!
//! The softmax loss takes one exponential per logit: through libm that is a
//! call each (~5 ns), a fifth of a training step on small networks. In
//! `f32` this evaluates a polynomial the compiler vectorises instead (the
//! Cephes `expf` reduction and coefficients, within 2 ulp of the correctly
//! rounded result). It uses only IEEE additions and multiplications, no
//! fused multiply-add, so every instruction set gives the same bits. `f64`
//! keeps libm's `exp`: the NumPy engine is checked against it to ~1e-13.

use crate::float::Float;
use crate::simd::{dispatch, Kernel};

/// Below this `e^x` is subnormal in `f32`; above [`HI`] close to overflow.
const LO: f32 = -87.3365;
const HI: f32 = 88.0;

/// Replaces every `x` in `xs` by `e^x`. In `f32`, slices with every value
/// in [−87.3, 88] take the polynomial; any other value (subnormal results,
/// overflow, ±∞, NaN) sends the slice through libm, exact at the edges.
pub fn exp_in_place<T: Float>(xs: &mut [T]) {
    if size_of::<T>() == size_of::<f32>() {
        // SAFETY: `T` is f32 (the only 4-byte `Float`): same layout.
        let xs = unsafe { std::slice::from_raw_parts_mut(xs.as_mut_ptr().cast::<f32>(), xs.len()) };
        // NaN is not in the range either.
        if xs.iter().all(|x| (LO..=HI).contains(x)) {
            dispatch(ExpF32(xs));
            return;
        }
        xs.iter_mut().for_each(|x| *x = x.exp());
    } else {
        xs.iter_mut().for_each(|x| *x = x.exp());
    }
}

struct ExpF32<'a>(&'a mut [f32]);

impl Kernel for ExpF32<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.0.iter_mut().for_each(|x| *x = exp_f32(*x));
    }
}

/// Cephes `expf` for `x` in [LO, HI]: `e^x = 2^n · e^r` with
/// `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2`, `e^r` by a degree-6 polynomial.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that `n · LN2_HI` is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * r2 + r + 1.0;
    // 2^n by building the exponent field; n ∈ [-126, 127] in this range.
    e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn f32_is_within_2_ulp_of_the_correctly_rounded_exp() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let exact = (x as f64).exp() as f32;
            let mut got = [x];
            exp_in_place(&mut got);
            worst = worst.max(ulps(got[0], exact));
            x += 0.000_731;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn f32_edges_nan_and_extremes_are_libm_s() {
        let mut xs = [0.0f32, -0.0, f32::NAN, f32::NEG_INFINITY, -200.0, 1.0];
        exp_in_place(&mut xs);
        assert_eq!(xs[0], 1.0);
        assert_eq!(xs[1], 1.0);
        assert!(xs[2].is_nan());
        assert_eq!(xs[3], 0.0);
        assert_eq!(xs[4], (-200.0f32).exp());
        assert!((xs[5] - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
    }

    #[test]
    fn a_value_with_a_subnormal_result_sends_the_slice_through_libm() {
        let mut xs = [0.0f32, -90.0, -1.5];
        exp_in_place(&mut xs);
        assert_eq!(xs, [1.0, (-90.0f32).exp(), (-1.5f32).exp()]);
        assert!(xs[1] > 0.0);
    }

    #[test]
    fn f64_is_libm_exp() {
        let mut xs = [-3.5f64, 0.25, 700.0];
        let expect = xs.map(f64::exp);
        exp_in_place(&mut xs);
        assert_eq!(xs, expect);
    }

    #[test]
    fn every_length_gives_the_same_values() {
        let values: Vec<f32> = (0..37).map(|i| -0.37 * i as f32).collect();
        let mut whole = values.clone();
        exp_in_place(&mut whole);
        for (i, &v) in values.iter().enumerate() {
            let mut one = [v];
            exp_in_place(&mut one);
            assert_eq!(one[0].to_bits(), whole[i].to_bits());
        }
    }
}
