//! `exp`, `ln` and `ln(1 + x)` over a slice without a library call per
//! element.
//!
//! The log losses take one exponential per logit and one logarithm per row
//! (softmax) or per logit (sigmoid): through libm that is a call each, a
//! large share of a training step on small networks (see BENCHMARKS.md,
//! "Measurements behind the code's constants"). Here they evaluate
//! polynomials the compiler vectorises instead: in `f32` within 2 ulp of
//! the correctly rounded results, in `f64` within 1 ulp of libm's (both
//! measured densely by the tests, not proven). In `f32`, the Cephes `expf`
//! and `logf` reductions and coefficients; in `f64`, the same reductions
//! with Taylor series long enough for double precision (`e^r` to degree 13,
//! and `ln(1 + f) = 2·atanh(f / (2 + f))` to the 25th power, as fdlibm's
//! `log` arranges it). They use only IEEE additions, multiplications and
//! divisions, no fused multiply-add, so every instruction set gives the
//! same bits.

use std::ops::RangeInclusive;

use crate::float::Float;
use crate::simd::{dispatch, Kernel};

/// Below this `e^x` is subnormal in `f32`; above [`HI`] close to overflow.
const LO: f32 = -87.3365;
const HI: f32 = 88.0;

/// [`LO`] and [`HI`] for `f64`: `e^x` stays normal and finite, with the
/// power of two in `exp_f64` between 2^−1021 and 2^1023.
const LO_F64: f64 = -708.0;
const HI_F64: f64 = 709.0;

/// Replaces every `x` in `xs` by `e^x`. Slices with every value in the
/// polynomial's range ([−87.3, 88] in `f32`, [−708, 709] in `f64`) take
/// it; any other value (subnormal results, overflow, ±∞, NaN) sends the
/// slice through libm, exact at the edges.
pub fn exp_in_place<T: Float>(xs: &mut [T]) {
    map_in_place(xs, (LO..=HI, exp_f32), (LO_F64..=HI_F64, exp_f64), T::exp);
}

/// Replaces every `x` in `xs` by `ln x`. Slices of positive normal finite
/// values take the polynomial; any other value (0, negative, subnormal, ∞,
/// NaN) sends the slice through libm, exact at the edges.
pub fn ln_in_place<T: Float>(xs: &mut [T]) {
    map_in_place(
        xs,
        (f32::MIN_POSITIVE..=f32::MAX, ln_f32),
        (f64::MIN_POSITIVE..=f64::MAX, ln_f64),
        T::ln,
    );
}

/// Replaces every `x` in `xs` by `ln(1 + x)`. Slices of normal values in
/// (0, 1] (the sigmoid loss's `e^−|z|`) take the polynomial; any other
/// value (±0, subnormal, negative, above 1, NaN) sends the slice through
/// libm.
pub fn ln_1p_in_place<T: Float>(xs: &mut [T]) {
    map_in_place(
        xs,
        (f32::MIN_POSITIVE..=1.0, ln_1p_f32),
        (f64::MIN_POSITIVE..=1.0, ln_1p_f64),
        T::ln_1p,
    );
}

/// Applies the fast function of `T`'s width to every value of `xs` when
/// all of them lie in its range (vectorised through [`dispatch`]), `libm`
/// otherwise.
#[inline(always)]
fn map_in_place<T: Float>(
    xs: &mut [T],
    (range_f32, fast_f32): (RangeInclusive<f32>, impl Fn(f32) -> f32),
    (range_f64, fast_f64): (RangeInclusive<f64>, impl Fn(f64) -> f64),
    libm: impl Fn(T) -> T,
) {
    let (ptr, len) = (xs.as_mut_ptr(), xs.len());
    let fast = if size_of::<T>() == size_of::<f32>() {
        // SAFETY: `T` is f32 (the only 4-byte `Float`): same layout.
        let xs = unsafe { std::slice::from_raw_parts_mut(ptr.cast::<f32>(), len) };
        map_if_in_range(xs, range_f32, fast_f32)
    } else {
        // SAFETY: `T` is f64 (the only other `Float`): same layout.
        let xs = unsafe { std::slice::from_raw_parts_mut(ptr.cast::<f64>(), len) };
        map_if_in_range(xs, range_f64, fast_f64)
    };
    if !fast {
        xs.iter_mut().for_each(|x| *x = libm(*x));
    }
}

/// Maps `xs` through `f` and returns true if every value lies in `range`;
/// leaves `xs` alone and returns false otherwise.
#[inline(always)]
fn map_if_in_range<F: Copy + PartialOrd>(
    xs: &mut [F],
    range: RangeInclusive<F>,
    f: impl Fn(F) -> F,
) -> bool {
    // NaN is in no range.
    let (lo, hi) = (*range.start(), *range.end());
    if !dispatch(InRange { xs, lo, hi }) {
        return false;
    }
    dispatch(Map { xs, f });
    true
}

/// Whether every value of `xs` lies in `lo..=hi` (NaN does not).
struct InRange<'a, F> {
    xs: &'a [F],
    lo: F,
    hi: F,
}

impl<F: Copy + PartialOrd> Kernel for InRange<'_, F> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let (lo, hi) = (self.lo, self.hi);
        // A count of the values outside: the compiler vectorises it for
        // both widths (a fold of `bool`s it does not).
        let outside: usize = self
            .xs
            .iter()
            .map(|&x| usize::from(!((x >= lo) & (x <= hi))))
            .sum();
        outside == 0
    }
}

struct Map<'a, F, G> {
    xs: &'a mut [F],
    f: G,
}

impl<F: Copy, G: Fn(F) -> F> Kernel for Map<'_, F, G> {
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

/// `ln(1 + u)` for `u` in [0, 1] from [`ln_f32`]: `w = 1 + u` rounds,
/// and `(u − (w − 1)) / w` (exact numerator) restores what the rounding
/// dropped, `ln(1 + u) = ln w + ln(1 + (1 + u − w)/w)`.
#[inline(always)]
fn ln_1p_f32(u: f32) -> f32 {
    let w = 1.0 + u;
    ln_f32(w) + (u - (w - 1.0)) / w
}

/// ln 2 split so that `n · LN2_HI_F64` is exact for |n| < 2^21 (its low 32
/// mantissa bits are zero) and `LN2_LO_F64` is the rest, rounded.
const LN2_HI_F64: f64 = 0.693_146_705_627_441_4;
const LN2_LO_F64: f64 = 4.749_325_039_031_672_6e-7;

/// `1/k!` for `k` = 2 to 13: `e^r = 1 + r + r²·Σ r^(k−2)/k!`, truncated
/// where `|r| ≤ ln 2 / 2` leaves less than 0.05 ulp.
const EXP_SERIES: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// `Σ c[i]·x^i` for 12 coefficients by Estrin's scheme: pairs, then pairs
/// of pairs with `x²`, `x⁴` and `x⁸`. Horner's rule would be twelve
/// dependent multiply-adds; this is four levels, so a vector's exponential
/// waits on far fewer latencies.
#[inline(always)]
fn estrin_12(x: f64, c: &[f64; 12]) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let pair = |i: usize| c[i] + c[i + 1] * x;
    let quad = |i: usize| pair(i) + pair(i + 2) * x2;
    (quad(0) + quad(4) * x4) + quad(8) * x8
}

/// `e^x` for `x` in [`LO_F64`, `HI_F64`]: `e^x = 2^n · e^r` with
/// `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2` (as [`exp_f32`]).
#[inline(always)]
fn exp_f64(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // Adding and subtracting 1.5·2^52 rounds to the nearest integer.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI_F64) - n * LN2_LO_F64;
    let e_r = 1.0 + (r + r * r * estrin_12(r, &EXP_SERIES));
    // 2^n from the exponent field, n ∈ [−1021, 1023] in this range, by
    // integer arithmetic on `shifted`'s bits (see `exp_f32`).
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    e_r * f64::from_bits(n_bits.wrapping_add(1023) << 52)
}

/// `2/(2j + 1)` for `j` = 1 to 12: `2·atanh(s) = 2s + s·R` with
/// `R = Σ 2·s^(2j)/(2j + 1)`, truncated where `|s| ≤ 0.172` leaves less
/// than 0.001 ulp (ten terms would do; twelve share [`estrin_12`]).
const ATANH_SERIES: [f64; 12] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
    2.0 / 23.0,
    2.0 / 25.0,
];

/// `ln x + c` for positive normal `x` and a small correction `c`:
/// `x = 2^e · (1 + f)` with `1 + f` in [√½, √2), and
/// `ln(1 + f) = f − (f²/2 − s·(f²/2 + R))` with `s = f/(2 + f)`, summed
/// smallest terms first (fdlibm's arrangement).
#[inline(always)]
fn ln_f64_plus(x: f64, c: f64) -> f64 {
    const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let bits = x.to_bits();
    // The mantissa scaled into [0.5, 1), and its exponent as a float: the
    // biased exponent put in the low bits of 2^52 and 2^52 taken away
    // (AVX2 has no 64-bit integer to float conversion).
    let m = f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000);
    let biased = f64::from_bits(TWO_52.to_bits() | ((bits >> 52) & 0x7ff)) - TWO_52;
    // Selects, not branches: into [√½, √2) by doubling the small ones.
    let small = m < SQRT_HALF;
    let e = biased - if small { 1023.0 } else { 1022.0 };
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * estrin_12(z, &ATANH_SERIES);
    let hfsq = 0.5 * f * f;
    e * LN2_HI_F64 - ((hfsq - (s * (hfsq + r) + (e * LN2_LO_F64 + c))) - f)
}

/// `ln x` for positive normal `x`.
#[inline(always)]
fn ln_f64(x: f64) -> f64 {
    ln_f64_plus(x, 0.0)
}

/// `ln(1 + u)` for `u` in [0, 1]: as [`ln_1p_f32`], the correction added
/// with the smallest terms.
#[inline(always)]
fn ln_1p_f64(u: f64) -> f64 {
    let w = 1.0 + u;
    ln_f64_plus(w, (u - (w - 1.0)) / w)
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

    fn ulps_f64(a: f64, b: f64) -> u64 {
        (a.to_bits() as i128 - b.to_bits() as i128).unsigned_abs() as u64
    }

    /// The worst distance in ulp between `fast` over `xs` (one slice) and
    /// libm's `exact`, which glibc rounds correctly but in rare cases.
    fn worst_f64(xs: &[f64], fast: fn(&mut [f64]), exact: fn(f64) -> f64) -> u64 {
        let mut got = xs.to_vec();
        fast(&mut got);
        xs.iter()
            .zip(&got)
            .map(|(&x, &g)| ulps_f64(g, exact(x)))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn f64_exp_is_within_1_ulp_of_libm() {
        let wide: Vec<f64> = (0..200_000)
            .map(|i| -708.0 + 1417.0 * i as f64 / 200_000.0)
            .collect();
        // The softmax's z − max and the sigmoid's −|z|, densely.
        let near: Vec<f64> = (0..200_000)
            .map(|i| -40.0 + 41.0 * i as f64 / 200_000.0)
            .collect();
        // Around each half-integer multiple of ln 2, where n steps.
        let edges: Vec<f64> = (-1021..=1022)
            .map(|n| (n as f64 + 0.5) * std::f64::consts::LN_2)
            .filter(|x| (LO_F64..=HI_F64).contains(x))
            .flat_map(|x| [x.next_down(), x, x.next_up()])
            .collect();
        assert!(edges.len() > 3000);
        for xs in [wide, near, edges] {
            let worst = worst_f64(&xs, exp_in_place, f64::exp);
            assert!(worst <= 1, "worst error {worst} ulp");
        }
    }

    #[test]
    fn f64_ln_and_ln_1p_are_within_1_ulp_of_libm() {
        let spread: Vec<f64> = (0..100_000)
            .map(|i| 2f64.powf(-1021.0 + 2044.0 * i as f64 / 100_000.0))
            .collect();
        // The softmax loss's sums of exponentials, and values near 1.
        let dense: Vec<f64> = (0..100_000)
            .map(|i| 1.0 + 63.0 * i as f64 / 100_000.0)
            .collect();
        let near_one: Vec<f64> = (1..100_000)
            .map(|i| 1.0 + (i as f64 - 50_000.0) * 1e-9)
            .collect();
        for xs in [spread, dense, near_one] {
            let worst = worst_f64(&xs, ln_in_place, f64::ln);
            assert!(worst <= 1, "ln: worst error {worst} ulp");
        }
        // ln(1 + e^−|z|): [0, 1], densely near 0 as well.
        let unit: Vec<f64> = (0..=100_000).map(|i| i as f64 / 100_000.0).collect();
        let tiny: Vec<f64> = (0..100_000)
            .map(|i| 2f64.powf(-60.0 * i as f64 / 100_000.0))
            .collect();
        for xs in [unit, tiny] {
            let worst = worst_f64(&xs, ln_1p_in_place, f64::ln_1p);
            assert!(worst <= 1, "ln_1p: worst error {worst} ulp");
        }
    }

    #[test]
    fn f32_ln_1p_is_within_2_ulp_of_the_correctly_rounded_value() {
        let mut worst = 0;
        let unit = (0..=100_000).map(|i| i as f32 / 100_000.0);
        let tiny = (0..100_000).map(|i| 2f32.powf(-30.0 * i as f32 / 100_000.0));
        for u in unit.chain(tiny) {
            let mut got = [u];
            ln_1p_in_place(&mut got);
            worst = worst.max(ulps(got[0], (u as f64).ln_1p() as f32));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn f64_edges_nan_and_extremes_are_libm_s() {
        let mut xs = [
            0.0f64,
            -0.0,
            f64::NAN,
            f64::NEG_INFINITY,
            -720.0,
            710.0,
            1.0,
        ];
        exp_in_place(&mut xs);
        assert_eq!(xs[..2], [1.0, 1.0]);
        assert!(xs[2].is_nan());
        assert_eq!(xs[3..6], [0.0, (-720.0f64).exp(), f64::INFINITY]);
        assert!(xs[4] > 0.0);
        assert!(ulps_f64(xs[6], std::f64::consts::E) <= 1);
        let mut xs = [1.0f64, 0.0, -1.0, f64::INFINITY, 1e-310];
        ln_in_place(&mut xs);
        assert_eq!(xs[..2], [0.0, f64::NEG_INFINITY]);
        assert!(xs[2].is_nan());
        assert_eq!(xs[3..], [f64::INFINITY, 1e-310f64.ln()]);
        // 2 and −0.5 lie outside [0, 1]: the whole slice is libm's.
        let mut xs = [0.0f64, 1.0, 2.0, -0.5];
        let expect = xs.map(f64::ln_1p);
        ln_1p_in_place(&mut xs);
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
