//! `exp` and `ln` over a slice without a library call per element.
//!
//! The softmax loss takes one exponential per logit and one logarithm per
//! row: through libm that is a call each, a large share of a training step
//! on small networks (see BENCHMARKS.md, "Measurements behind the code's constants"). In `f32` these evaluate polynomials the compiler
//! vectorises instead (the Cephes `expf` and `logf` reductions and
//! coefficients, within 2 ulp of the correctly rounded results). They use
//! only IEEE additions and multiplications, no fused multiply-add, so every
//! instruction set gives the same bits. `f64` keeps libm's `exp` and `ln`:
//! the NumPy engine is checked against them to ~1e-13.

use std::ops::RangeInclusive;

use crate::float::Float;
use crate::simd::{dispatch, Kernel};

/// Below this `e^x` is subnormal in `f32`; above [`HI`] close to overflow.
const LO: f32 = -87.3365;
const HI: f32 = 88.0;

/// Replaces every `x` in `xs` by `e^x`. In `f32`, slices with every value
/// in [−87.3, 88] take the polynomial; any other value (subnormal results,
/// overflow, ±∞, NaN) sends the slice through libm, exact at the edges.
pub fn exp_in_place<T: Float>(xs: &mut [T]) {
    map_in_place(xs, LO..=HI, exp_f32, T::exp);
}

/// Applies `fast` to every value of an `f32` slice whose values all lie in
/// `fast_range` (vectorised through [`dispatch`]), `libm` otherwise.
#[inline(always)]
fn map_in_place<T: Float>(
    xs: &mut [T],
    fast_range: RangeInclusive<f32>,
    fast: impl Fn(f32) -> f32,
    libm: impl Fn(T) -> T,
) {
    if size_of::<T>() == size_of::<f32>() {
        // SAFETY: `T` is f32 (the only 4-byte `Float`): same layout.
        let xs = unsafe { std::slice::from_raw_parts_mut(xs.as_mut_ptr().cast::<f32>(), xs.len()) };
        // NaN is in no range. A fold without early exit, so that the check
        // vectorises (`all` stops at the first miss, one compare at a time).
        let (lo, hi) = (*fast_range.start(), *fast_range.end());
        if dispatch(InRange { xs, lo, hi }) {
            dispatch(MapF32 { xs, f: fast });
            return;
        }
    }
    xs.iter_mut().for_each(|x| *x = libm(*x));
}

/// Whether every value of `xs` lies in `lo..=hi` (NaN does not).
struct InRange<'a> {
    xs: &'a [f32],
    lo: f32,
    hi: f32,
}

impl Kernel for InRange<'_> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let (lo, hi) = (self.lo, self.hi);
        self.xs
            .iter()
            .fold(true, |ok, &x| ok & (x >= lo) & (x <= hi))
    }
}

struct MapF32<'a, F> {
    xs: &'a mut [f32],
    f: F,
}

impl<F: Fn(f32) -> f32> Kernel for MapF32<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let f = self.f;
        self.xs.iter_mut().for_each(|x| *x = f(*x));
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
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * r2 + r + 1.0;
    // 2^n by building the exponent field; n ∈ [-126, 127] in this range.
    // `shifted` lies in [2^23, 2^24), where a float's bits count up by one
    // per integer, so its bits less ROUND's are n: integer arithmetic that
    // vectorises, where `n as i32` is a saturating cast done lane by lane.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    e_r * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// Replaces every `x` in `xs` by `ln x`. In `f32`, slices of positive
/// normal finite values take the polynomial; any other value (0, negative,
/// subnormal, ∞, NaN) sends the slice through libm, exact at the edges.
pub fn ln_in_place<T: Float>(xs: &mut [T]) {
    map_in_place(xs, f32::MIN_POSITIVE..=f32::MAX, ln_f32, T::ln);
}

/// Cephes `logf`'s polynomial for `ln(1 + m) ≈ m − m²/2 + m³·P(m)`.
const LN_POLY: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_4e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];

/// Cephes `logf` for positive normal `x`: `x = 2^e · m` with `m` in
/// [√½, √2), `ln m` by a degree-9 polynomial in `m − 1`.
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    // ln 2 split so that `e · LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let bits = x.to_bits();
    // The mantissa scaled into [0.5, 1), and the matching exponent.
    let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000);
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    // Selects, not branches: into [√½, √2) by doubling the small ones.
    let small = m < SQRT_HALF;
    let e = (e - i32::from(small)) as f32;
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    // Horner's rule, highest power first.
    let p = LN_POLY.iter().fold(0.0, |acc, &c| acc * m + c);
    let y = m * z * p + e * LN2_LO - 0.5 * z;
    m + y + e * LN2_HI
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
    fn f32_exp_is_right_on_both_sides_of_every_exponent_step() {
        // The power of two changes where x·log₂e rounds to the next
        // integer, x = (n + ½)·ln 2: the few floats around each such edge
        // in the fast range, each through the polynomial on its own.
        let mut worst = 0;
        let mut checked = 0;
        for n in -127..=127 {
            let edge = (n as f32 + 0.5) / std::f32::consts::LOG2_E;
            let near = [
                edge.next_down().next_down(),
                edge.next_down(),
                edge,
                edge.next_up(),
                edge.next_up().next_up(),
            ];
            for x in near.into_iter().filter(|x| (LO..=HI).contains(x)) {
                let mut got = [x];
                exp_in_place(&mut got);
                worst = worst.max(ulps(got[0], (x as f64).exp() as f32));
                checked += 1;
            }
        }
        assert!(checked > 1200, "{checked} values checked");
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
    fn f32_ln_is_within_2_ulp_of_the_correctly_rounded_ln() {
        let mut worst = 0;
        // Log-spaced over the normal range, and densely over [1, 64] (the
        // softmax loss's sums of exponentials).
        let spread = (0..20_000).map(|i| 2f32.powf(-125.0 + 252.0 * i as f32 / 20_000.0));
        let dense = (0..20_000).map(|i| 1.0 + 63.0 * i as f32 / 20_000.0);
        for x in spread.chain(dense) {
            let exact = (x as f64).ln() as f32;
            let mut got = [x];
            ln_in_place(&mut got);
            worst = worst.max(ulps(got[0], exact));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn f32_ln_edges_are_libm_s() {
        let mut xs = [1.0f32, 0.0, -1.0, f32::INFINITY, f32::NAN, 1e-40];
        ln_in_place(&mut xs);
        assert_eq!(xs[0], 0.0);
        assert_eq!(xs[1], f32::NEG_INFINITY);
        assert!(xs[2].is_nan());
        assert_eq!(xs[3], f32::INFINITY);
        assert!(xs[4].is_nan());
        assert_eq!(xs[5], 1e-40f32.ln());
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
