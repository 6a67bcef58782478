//! One SIMD register of `f32` or `f64` and the few operations the small
//! products ([`crate::small_matmul`]) need, for AVX2 (256-bit) and AVX-512
//! (512-bit) registers.
//!
//! Every operation is one IEEE-rounded instruction per lane (or one fused
//! multiply-add), so a result does not depend on the register's width.

/// One SIMD register of `T`s and the few operations a block needs.
///
/// # Safety
/// Implementations use instructions of one instruction set: call them only
/// from code compiled for it (inlined into a `#[target_feature]` function).
pub(crate) trait Vector<T>: Copy {
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: T) -> Self;
    /// Loads `LANES` values from `p` (no alignment needed), which must point
    /// at that many readable values.
    unsafe fn load(p: *const T) -> Self;
    /// Loads the `lanes` values at `p` (`0 < lanes <= LANES`), zero in the
    /// other lanes, reading nothing past them (a masked load).
    unsafe fn load_first(p: *const T, lanes: usize) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    /// Zero in the lanes below zero, the value elsewhere (NaN and −0 stay),
    /// as the scalar ReLU `if v < 0 { 0 } else { v }`.
    unsafe fn relu(self) -> Self;
    /// `self` times ReLU's derivative at `a`: `self · 1` where `a > 0`, else
    /// `self · 0`, as the scalar `d *= if a > 0 { 1 } else { 0 }`.
    unsafe fn relu_gate(self, a: Self) -> Self;
    /// `a·b + c`, rounded once.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// Stores `LANES` values at `p` (no alignment needed), which must point
    /// at that many writable values.
    unsafe fn store(self, p: *mut T);
    /// Stores the first `lanes` values at `p` (`0 < lanes <= LANES`),
    /// writing nothing past them.
    unsafe fn store_first(self, p: *mut T, lanes: usize);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    macro_rules! vector {
        ($vec:ty, $t:ty, $lanes:expr, $zero:ident, $splat:ident, $load:ident, $load_first:ident, $add:ident, $relu:ident, $gate:ident, $fma:ident, $store:ident, $store_first:ident) => {
            impl Vector<$t> for $vec {
                const LANES: usize = $lanes;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $zero() }
                }
                #[inline(always)]
                unsafe fn splat(x: $t) -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $splat(x) }
                }
                #[inline(always)]
                unsafe fn load(p: *const $t) -> Self {
                    // SAFETY: the instruction set as in `zero`; the caller passes
                    // `p` with `LANES` readable values (the method's contract),
                    // and the unaligned load asks for no alignment.
                    unsafe { $load(p) }
                }
                #[inline(always)]
                unsafe fn load_first(p: *const $t, lanes: usize) -> Self {
                    // SAFETY: the instruction set as in `zero`; the caller passes
                    // `p` with `lanes` readable values (the method's contract),
                    // and a masked load touches no memory of the lanes it leaves out.
                    unsafe { $load_first(p, lanes) }
                }
                #[inline(always)]
                unsafe fn add(a: Self, b: Self) -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $add(a, b) }
                }
                #[inline(always)]
                unsafe fn relu(self) -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $relu(self) }
                }
                #[inline(always)]
                unsafe fn relu_gate(self, a: Self) -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $gate(self, a) }
                }
                #[inline(always)]
                unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                    // SAFETY: the caller runs this in code compiled for the vector's
                    // instruction set (the trait's contract), all the intrinsic needs.
                    unsafe { $fma(a, b, c) }
                }
                #[inline(always)]
                unsafe fn store(self, p: *mut $t) {
                    // SAFETY: the instruction set as in `zero`; the caller passes
                    // `p` with `LANES` writable values (the method's contract),
                    // and the unaligned store asks for no alignment.
                    unsafe { $store(p, self) }
                }
                #[inline(always)]
                unsafe fn store_first(self, p: *mut $t, lanes: usize) {
                    // SAFETY: the instruction set as in `zero`; the caller passes
                    // `p` with `lanes` writable values (the method's contract),
                    // and the store writes no memory past them.
                    unsafe { $store_first(self, p, lanes) }
                }
            }
        };
    }

    // The stores of a row's last, partial vector. AVX-512 masks them; AVX2's
    // masked stores are slow on some CPUs (microcoded on AMD's), so its
    // vectors go through a buffer and a few fixed-size copies.
    #[inline(always)]
    unsafe fn store_first_ps256(v: __m256, p: *mut f32, lanes: usize) {
        // SAFETY: called only from code compiled for AVX2 (the trait's
        // contract); the buffer holds the vector, `lanes` of it are copied.
        unsafe { store_through_buffer::<f32, 8>(|b| _mm256_storeu_ps(b, v), p, lanes) }
    }

    #[inline(always)]
    unsafe fn store_first_pd256(v: __m256d, p: *mut f64, lanes: usize) {
        // SAFETY: as in `store_first_ps256`.
        unsafe { store_through_buffer::<f64, 4>(|b| _mm256_storeu_pd(b, v), p, lanes) }
    }

    #[inline(always)]
    unsafe fn store_first_ps512(v: __m512, p: *mut f32, lanes: usize) {
        // SAFETY: called only from code compiled for AVX-512F; a masked
        // store writes only the lanes whose mask bit is set.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << lanes) - 1) as __mmask16, v) }
    }

    #[inline(always)]
    unsafe fn store_first_pd512(v: __m512d, p: *mut f64, lanes: usize) {
        // SAFETY: as in `store_first_ps512`.
        unsafe { _mm512_mask_storeu_pd(p, ((1u32 << lanes) - 1) as __mmask8, v) }
    }

    /// Stores a vector of `N` values into a buffer with `store`, then copies
    /// the first `lanes` of them to `p`.
    ///
    /// # Safety
    /// `p` holds `lanes <= N` writable values.
    #[inline(always)]
    unsafe fn store_through_buffer<T: Copy + Default, const N: usize>(
        store: impl FnOnce(*mut T),
        p: *mut T,
        lanes: usize,
    ) {
        let mut values = [T::default(); N];
        store(values.as_mut_ptr());
        // SAFETY: the caller's contract.
        let out = unsafe { std::slice::from_raw_parts_mut(p, lanes) };
        // A few fixed-size moves, not a `memcpy` call of `lanes` values.
        crate::features::copy_row(out, &values[..lanes]);
    }

    // The masked loads for a row's last, partial vector: lanes below `lanes`.
    #[inline(always)]
    unsafe fn load_first_ps256(p: *const f32, lanes: usize) -> __m256 {
        // SAFETY: called only from code compiled for AVX2 (the trait's
        // contract); `maskload` reads only the lanes whose mask bit is set.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), lane))
        }
    }

    #[inline(always)]
    unsafe fn load_first_pd256(p: *const f64, lanes: usize) -> __m256d {
        // SAFETY: as in `load_first_ps256`.
        unsafe {
            let lane = _mm256_setr_epi64x(0, 1, 2, 3);
            _mm256_maskload_pd(
                p,
                _mm256_cmpgt_epi64(_mm256_set1_epi64x(lanes as i64), lane),
            )
        }
    }

    #[inline(always)]
    unsafe fn load_first_ps512(p: *const f32, lanes: usize) -> __m512 {
        // SAFETY: called only from code compiled for AVX-512F; a zero-masked
        // load reads only the lanes whose mask bit is set.
        unsafe { _mm512_maskz_loadu_ps(((1u32 << lanes) - 1) as __mmask16, p) }
    }

    #[inline(always)]
    unsafe fn load_first_pd512(p: *const f64, lanes: usize) -> __m512d {
        // SAFETY: as in `load_first_ps512`.
        unsafe { _mm512_maskz_loadu_pd(((1u32 << lanes) - 1) as __mmask8, p) }
    }

    // ReLU as a select on an ordered `<` (false for NaN and −0), so that it
    // keeps what the scalar `if v < 0 { 0 } else { v }` keeps.
    #[inline(always)]
    unsafe fn relu_ps256(v: __m256) -> __m256 {
        // SAFETY: called only from code compiled for AVX2 (the trait's contract).
        unsafe {
            let zero = _mm256_setzero_ps();
            _mm256_blendv_ps(v, zero, _mm256_cmp_ps::<_CMP_LT_OQ>(v, zero))
        }
    }

    #[inline(always)]
    unsafe fn relu_pd256(v: __m256d) -> __m256d {
        // SAFETY: as in `relu_ps256`.
        unsafe {
            let zero = _mm256_setzero_pd();
            _mm256_blendv_pd(v, zero, _mm256_cmp_pd::<_CMP_LT_OQ>(v, zero))
        }
    }

    #[inline(always)]
    unsafe fn relu_ps512(v: __m512) -> __m512 {
        // SAFETY: called only from code compiled for AVX-512F.
        unsafe {
            let zero = _mm512_setzero_ps();
            _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero), zero)
        }
    }

    #[inline(always)]
    unsafe fn relu_pd512(v: __m512d) -> __m512d {
        // SAFETY: as in `relu_ps512`.
        unsafe {
            let zero = _mm512_setzero_pd();
            _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, zero), zero)
        }
    }

    // ReLU's derivative as a factor of exactly 1 or 0 (an ordered `>`: 0
    // for NaN), multiplied in as the scalar pass multiplies it.
    #[inline(always)]
    unsafe fn gate_ps256(d: __m256, a: __m256) -> __m256 {
        // SAFETY: called only from code compiled for AVX2 (the trait's contract).
        unsafe {
            let above = _mm256_cmp_ps::<_CMP_GT_OQ>(a, _mm256_setzero_ps());
            _mm256_mul_ps(d, _mm256_and_ps(above, _mm256_set1_ps(1.0)))
        }
    }

    #[inline(always)]
    unsafe fn gate_pd256(d: __m256d, a: __m256d) -> __m256d {
        // SAFETY: as in `gate_ps256`.
        unsafe {
            let above = _mm256_cmp_pd::<_CMP_GT_OQ>(a, _mm256_setzero_pd());
            _mm256_mul_pd(d, _mm256_and_pd(above, _mm256_set1_pd(1.0)))
        }
    }

    #[inline(always)]
    unsafe fn gate_ps512(d: __m512, a: __m512) -> __m512 {
        // SAFETY: called only from code compiled for AVX-512F.
        unsafe {
            let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, _mm512_setzero_ps());
            _mm512_mul_ps(d, _mm512_maskz_mov_ps(above, _mm512_set1_ps(1.0)))
        }
    }

    #[inline(always)]
    unsafe fn gate_pd512(d: __m512d, a: __m512d) -> __m512d {
        // SAFETY: as in `gate_ps512`.
        unsafe {
            let above = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(a, _mm512_setzero_pd());
            _mm512_mul_pd(d, _mm512_maskz_mov_pd(above, _mm512_set1_pd(1.0)))
        }
    }

    vector!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        load_first_ps256,
        _mm256_add_ps,
        relu_ps256,
        gate_ps256,
        _mm256_fmadd_ps,
        _mm256_storeu_ps,
        store_first_ps256
    );
    vector!(
        __m256d,
        f64,
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        load_first_pd256,
        _mm256_add_pd,
        relu_pd256,
        gate_pd256,
        _mm256_fmadd_pd,
        _mm256_storeu_pd,
        store_first_pd256
    );
    vector!(
        __m512,
        f32,
        16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        load_first_ps512,
        _mm512_add_ps,
        relu_ps512,
        gate_ps512,
        _mm512_fmadd_ps,
        _mm512_storeu_ps,
        store_first_ps512
    );
    vector!(
        __m512d,
        f64,
        8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_loadu_pd,
        load_first_pd512,
        _mm512_add_pd,
        relu_pd512,
        gate_pd512,
        _mm512_fmadd_pd,
        _mm512_storeu_pd,
        store_first_pd512
    );
}

/// `lanes` values at `p` (`0 < lanes <= LANES`): a whole vector, or a
/// partial one read masked.
///
/// # Safety
/// Only from code compiled for `V`'s instruction set, with `lanes` values
/// readable at `p`.
#[inline(always)]
pub(crate) unsafe fn load_lanes<T, V: Vector<T>>(p: *const T, lanes: usize) -> V {
    // SAFETY: the caller's contract, which is each load's.
    unsafe {
        if lanes == V::LANES {
            V::load(p)
        } else {
            V::load_first(p, lanes)
        }
    }
}

/// Stores the first `lanes` lanes of `v` at `p` (`0 < lanes <= LANES`): a
/// whole vector, or a partial one ([`Vector::store_first`]), writing
/// nothing past them.
///
/// # Safety
/// Only from code compiled for `V`'s instruction set, with `lanes` values
/// writable at `p`.
#[inline(always)]
pub(crate) unsafe fn store_lanes<T: Copy + Default, V: Vector<T>>(v: V, p: *mut T, lanes: usize) {
    // SAFETY: the caller's contract, which is each store's.
    unsafe {
        if lanes == V::LANES {
            v.store(p);
        } else {
            v.store_first(p, lanes);
        }
    }
}

/// Runs `$body` with `$i` = 0, 1, … `$n − 1` as straight-line code (`$n`
/// a constant ≤ 16: a block's rows or vectors, a group's features): each
/// copy's index is a constant, so the accumulator arrays the kernels index
/// with it stay in registers. A loop over them keeps the accumulators in
/// memory, stored and loaded again for each result.
macro_rules! unrolled {
    ($n:expr, $i:ident, $body:block) => {
        const { assert!($n <= 16) };
        unrolled!(@ $n, $i, $body, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $n:expr, $i:ident, $body:block, $($k:literal)*) => {
        $( if $k < $n { let $i: usize = $k; $body } )*
    };
}
pub(crate) use unrolled;

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};

    /// `store_lanes` of a vector `0, 1, 2, …` with each lane count into a
    /// buffer of sentinels: the first `lanes` values written, the rest
    /// untouched.
    ///
    /// # Safety
    /// Only from code compiled for `V`'s instruction set.
    #[inline(always)]
    unsafe fn stores_only_its_lanes<T: Copy + Default + PartialEq + From<u8>, V: Vector<T>>() {
        let ramp: Vec<T> = (0..V::LANES as u8).map(T::from).collect();
        let sentinel = T::from(99);
        for lanes in 1..=V::LANES {
            let mut out = vec![sentinel; V::LANES + 2];
            // SAFETY: the caller's instruction set; `ramp` holds a whole
            // vector and `out` more than `lanes` values after its first.
            unsafe { store_lanes(V::load(ramp.as_ptr()), out.as_mut_ptr().add(1), lanes) };
            assert!(out[0] == sentinel, "{lanes} lanes: wrote before");
            assert!(out[1..=lanes] == ramp[..lanes], "{lanes} lanes: values");
            assert!(
                out[lanes + 1..].iter().all(|&v| v == sentinel),
                "{lanes} lanes: wrote past"
            );
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn on_avx2() {
        // SAFETY: compiled for AVX2, which the caller checked.
        unsafe {
            stores_only_its_lanes::<f32, __m256>();
            stores_only_its_lanes::<f64, __m256d>();
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn on_avx512() {
        // SAFETY: compiled for AVX-512F, which the caller checked.
        unsafe {
            stores_only_its_lanes::<f32, __m512>();
            stores_only_its_lanes::<f64, __m512d>();
        }
    }

    #[test]
    fn a_partial_store_writes_its_lanes_and_nothing_else() {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            unsafe { on_avx2() };
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            unsafe { on_avx512() };
        }
    }
}
