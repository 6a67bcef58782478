//! Matrix products too small for the `gemm` crate to pay off.
//!
//! On the shapes of tiny networks (16×4 by 4×16, 16×16 by 16×3), `gemm`'s
//! dispatch, packing and per-call allocations cost more than the
//! arithmetic. This path reads a row-major right-hand matrix in place (a
//! row's last, partial vector through a masked load) and packs only a
//! transposed one, into a reused per-thread buffer. It keeps an `MR × NR`
//! block of the result in registers while it walks the shared dimension,
//! broadcasting one left-hand value per row.
//!
//! Every output element is one chain of fused multiply-adds in the order
//! `p = 0, 1, …, k−1`, whatever the vector width, so the AVX2 and AVX-512
//! versions give identical bits. It runs on one thread: products this small
//! lose more to waking a second thread than they gain.

use std::cell::RefCell;

use crate::features::copy_row;
use crate::float::Float;

/// Products of at most this many multiply-adds take this path: on the
/// shapes of tiny networks it beats `gemm`, whose fixed costs dominate there,
/// and on the row blocks of the defaults' (100,) networks in float64 it is
/// still ahead; beyond it `gemm`'s packed panels win (criterion `small_*`
/// and the fit probes; see BENCHMARKS.md, "Measurements behind the code's
/// constants").
pub const SMALL_MAX_MACS: usize = 1 << 19;

/// A matrix operand as raw strides over a slice that holds all of it.
#[derive(Clone, Copy)]
pub struct Operand<'a, T> {
    /// The elements; element `(i, j)` is `data[i·row_stride + j·col_stride]`.
    pub data: &'a [T],
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

/// The instruction sets this path has versions for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Isa {
    Avx512,
    Avx2,
}

fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static ISA: OnceLock<Option<Isa>> = OnceLock::new();
        *ISA.get_or_init(|| {
            if !std::arch::is_x86_feature_detected!("fma") {
                None
            } else if std::arch::is_x86_feature_detected!("avx512f") {
                Some(Isa::Avx512)
            } else if std::arch::is_x86_feature_detected!("avx2") {
                Some(Isa::Avx2)
            } else {
                None
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Whether this path should compute an `m × k` by `k × n` product: small
/// enough, and a CPU with fused multiply-add (without it `mul_add` is a
/// slow library call, and `gemm` is the better choice).
pub fn suits(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) <= SMALL_MAX_MACS && isa().is_some()
}

thread_local! {
    /// The packed right-hand matrix, reused across calls (stored as `f64`
    /// for alignment; viewed as `T`).
    static PACK: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// `dst (m × n, row-major) = lhs · rhs` (`+=` with `accumulate`).
///
/// The caller has checked that both operands lie inside their slices with
/// the given strides, that `dst` holds `m × n` elements, that `m, k, n > 0`
/// and that [`suits`] holds.
pub fn matmul<T: Float>(
    dst: &mut [T],
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(
        size_of::<T>() == 4 || size_of::<T>() == 8,
        "only f32 and f64 are supported"
    );
    let Some(isa) = isa() else {
        unreachable!("small_matmul::matmul called where `suits` is false");
    };
    matmul_on(isa, dst, lhs, rhs, (m, k, n), accumulate);
}

/// [`matmul`] with the given instruction set's version (which the CPU has).
fn matmul_on<T: Float>(
    isa: Isa,
    dst: &mut [T],
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    let run = |job: Job<'_, T>| {
        // SAFETY: `isa()` found the instruction sets each version needs.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match isa {
                Isa::Avx512 => job.run_avx512(),
                Isa::Avx2 => job.run_avx2(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = job;
    };
    let dst = &mut dst[..m * n];
    if rhs.col_stride == 1 {
        // Row-major: blocks read the right-hand matrix in place, the last
        // vector of a row that does not fill it through a masked load.
        let (rhs, rhs_stride) = (rhs.data, rhs.row_stride);
        run(Job {
            dst,
            lhs,
            rhs,
            rhs_stride,
            m,
            k,
            n,
            accumulate,
        });
        return;
    }
    // Otherwise (a transposed view) a row-major copy: one pass of strided
    // reads instead of one per row block.
    PACK.with(|cell| {
        let mut storage = cell.borrow_mut();
        let words = (k * n * size_of::<T>()).div_ceil(size_of::<f64>());
        if storage.len() < words {
            storage.resize(words, 0.0);
        }
        // SAFETY: `T` is f32 or f64 (asserted above): any bit pattern is a
        // valid value, and the f64 storage is aligned for either.
        let pack: &mut [T] =
            unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast(), k * n) };
        for (p, row) in pack.chunks_exact_mut(n).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = rhs.data[p * rhs.row_stride + j * rhs.col_stride];
            }
        }
        run(Job {
            dst,
            lhs,
            rhs: pack,
            rhs_stride: n,
            m,
            k,
            n,
            accumulate,
        });
    });
}

struct Job<'a, T> {
    dst: &'a mut [T],
    lhs: Operand<'a, T>,
    /// The right-hand matrix, rows `rhs_stride` apart, each readable up to
    /// `n` (a partial last vector is read masked).
    rhs: &'a [T],
    rhs_stride: usize,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
}

/// One SIMD register of `T`s and the few operations a block needs.
///
/// # Safety
/// Implementations use instructions of one instruction set: call them only
/// from code compiled for it (inlined into a `#[target_feature]` function).
trait Vector<T>: Copy {
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
    /// `a·b + c`, rounded once.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// Stores `LANES` values at `p` (no alignment needed), which must point
    /// at that many writable values.
    unsafe fn store(self, p: *mut T);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    macro_rules! vector {
        ($vec:ty, $t:ty, $lanes:expr, $zero:ident, $splat:ident, $load:ident, $load_first:ident, $add:ident, $fma:ident, $store:ident) => {
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
            }
        };
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

    vector!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        load_first_ps256,
        _mm256_add_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
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
        _mm256_fmadd_pd,
        _mm256_storeu_pd
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
        _mm512_fmadd_ps,
        _mm512_storeu_ps
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
        _mm512_fmadd_pd,
        _mm512_storeu_pd
    );
}

/// The most columns one block covers: two 512-bit vectors of `f32`.
const MAX_BLOCK_COLS: usize = 32;

impl<T: Float> Job<'_, T> {
    /// Column blocks of two vectors, the last one of one vector when that
    /// covers what is left.
    ///
    /// # Safety
    /// Only from code compiled for `V`'s instruction set.
    #[inline(always)]
    unsafe fn run<V: Vector<T>, const MR: usize>(mut self) {
        // SAFETY: the caller is compiled for `V`'s instruction set (this
        // function's contract), which `column_block` needs; each column block
        // lies inside `0..n`, the rows of `rhs` are readable that far, and a
        // block's partial last vector is read masked.
        unsafe {
            let mut j = 0;
            while j < self.n {
                let left = self.n - j;
                let partial = left < 2 * V::LANES && !left.is_multiple_of(V::LANES);
                match (left > V::LANES, partial) {
                    (true, false) => {
                        self.column_block::<V, MR, 2, false>(j, left.min(2 * V::LANES))
                    }
                    (true, true) => self.column_block::<V, MR, 2, true>(j, left),
                    (false, false) => self.column_block::<V, MR, 1, false>(j, left),
                    (false, true) => self.column_block::<V, MR, 1, true>(j, left),
                }
                j += if left > V::LANES { 2 } else { 1 } * V::LANES;
            }
        }
    }

    /// Columns `j..j + cols` of the result, `MR` rows at a time.
    #[inline(always)]
    unsafe fn column_block<V: Vector<T>, const MR: usize, const NV: usize, const RAGGED: bool>(
        &mut self,
        j: usize,
        cols: usize,
    ) {
        // SAFETY: the instruction set as the caller's (this function's
        // contract); every block called covers rows inside `0..m` (`i + MR <= m`,
        // then the `m − i < MR` rows left) and the caller's columns.
        unsafe {
            let mut i = 0;
            while i + MR <= self.m {
                self.block::<V, MR, NV, RAGGED>(i, j, cols);
                i += MR;
            }
            match self.m - i {
                0 => {}
                1 => self.block::<V, 1, NV, RAGGED>(i, j, cols),
                2 => self.block::<V, 2, NV, RAGGED>(i, j, cols),
                3 => self.block::<V, 3, NV, RAGGED>(i, j, cols),
                4 => self.block::<V, 4, NV, RAGGED>(i, j, cols),
                5 => self.block::<V, 5, NV, RAGGED>(i, j, cols),
                6 => self.block::<V, 6, NV, RAGGED>(i, j, cols),
                _ => self.block::<V, 7, NV, RAGGED>(i, j, cols),
            }
        }
    }

    /// Rows `i..i + R`, columns `j..j + cols` (`cols <= NV · LANES`) of the
    /// result, accumulated in `R × NV` registers. `RAGGED` blocks read their
    /// last vector masked to the `cols − (NV − 1) · LANES` columns that exist.
    #[inline(always)]
    unsafe fn block<V: Vector<T>, const R: usize, const NV: usize, const RAGGED: bool>(
        &mut self,
        i: usize,
        j: usize,
        cols: usize,
    ) {
        // SAFETY: the caller is compiled for `V`'s instruction set and asks for
        // rows `i..i + R` inside `0..m` and columns `j..j + cols` whose vectors
        // the rows of `rhs` hold (this function's contract); the pointer
        // arithmetic below stays inside the slices for the reasons given there.
        unsafe {
            let lhs = self.lhs;
            let mut acc = [[V::zero(); NV]; R];
            // SAFETY (pointer arithmetic below): the caller checked that `lhs`
            // holds rows `i..i+R` and columns `0..k` at its strides, and the pack
            // holds `k` rows readable up to `n >= j + cols`, of which a
            // `RAGGED` block's last vector reads only the first `cols − v·LANES`.
            let mut a = lhs.data.as_ptr().add(i * lhs.row_stride);
            let mut b = self.rhs.as_ptr().add(j);
            for _ in 0..self.k {
                let bv: [V; NV] = std::array::from_fn(|v| {
                    if RAGGED && v == NV - 1 {
                        V::load_first(b.add(v * V::LANES), cols - v * V::LANES)
                    } else {
                        V::load(b.add(v * V::LANES))
                    }
                });
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = V::splat(*a.add(r * lhs.row_stride));
                    for (c, &bc) in row.iter_mut().zip(&bv) {
                        *c = V::fma(av, bc, *c);
                    }
                }
                a = a.add(lhs.col_stride);
                b = b.add(self.rhs_stride);
            }
            let n = self.n;
            let mut values = [T::zero(); MAX_BLOCK_COLS];
            for (r, row) in acc.iter().enumerate() {
                let out = &mut self.dst[(i + r) * n + j..(i + r) * n + j + cols];
                if cols == NV * V::LANES {
                    // Whole vectors go straight to the result.
                    for (v, &vector) in row.iter().enumerate() {
                        let at = out.as_mut_ptr().add(v * V::LANES);
                        let sum = if self.accumulate {
                            V::add(V::load(at), vector)
                        } else {
                            vector
                        };
                        sum.store(at);
                    }
                    continue;
                }
                for (v, vector) in row.iter().enumerate() {
                    vector.store(values.as_mut_ptr().add(v * V::LANES));
                }
                if self.accumulate {
                    out.iter_mut().zip(&values).for_each(|(o, &v)| *o += v);
                } else {
                    copy_row(out, &values[..cols]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl<T: Float> Job<'_, T> {
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn run_avx512(self) {
        // SAFETY: this function is compiled for AVX-512F, AVX2 and FMA, what
        // `run` over 512-bit vectors uses, and its caller checked that the CPU
        // has them; `Float` is sealed, so a 4-byte `T` is f32 and an 8-byte
        // one f64, and `cast` views the job as its own type.
        unsafe {
            use std::arch::x86_64::{__m512, __m512d};
            if size_of::<T>() == 4 {
                self.cast::<f32>().run::<__m512, 8>()
            } else {
                self.cast::<f64>().run::<__m512d, 8>()
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(self) {
        // SAFETY: as in `run_avx512`, for AVX2 and FMA and 256-bit vectors.
        unsafe {
            use std::arch::x86_64::{__m256, __m256d};
            if size_of::<T>() == 4 {
                self.cast::<f32>().run::<__m256, 6>()
            } else {
                self.cast::<f64>().run::<__m256d, 6>()
            }
        }
    }
}

impl<'a, T: Float> Job<'a, T> {
    /// This job over `U`, the same type as `T` (checked by size: both are
    /// f32 or f64).
    unsafe fn cast<U: Float>(self) -> Job<'a, U> {
        // SAFETY: `Float` is sealed to f32 and f64, so `U` of `T`'s size (the
        // caller's check, this function's contract) is `T` itself: each slice
        // is viewed as its own type, with the same length and lifetime, and
        // `dst` stays the one mutable borrow of its elements.
        unsafe {
            debug_assert_eq!(size_of::<T>(), size_of::<U>());
            let view = |s: &'a [T]| std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len());
            Job {
                dst: std::slice::from_raw_parts_mut(
                    self.dst.as_mut_ptr().cast::<U>(),
                    self.dst.len(),
                ),
                lhs: Operand {
                    data: view(self.lhs.data),
                    row_stride: self.lhs.row_stride,
                    col_stride: self.lhs.col_stride,
                },
                rhs: view(self.rhs),
                rhs_stride: self.rhs_stride,
                m: self.m,
                k: self.k,
                n: self.n,
                accumulate: self.accumulate,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row-major `rows × cols` values, varied and exactly representable.
    fn values<T: Float>(len: usize, salt: usize) -> Vec<T> {
        (0..len)
            .map(|i| T::of((((i + salt) * 7919) % 997) as f64 / 512.0 - 0.97))
            .collect()
    }

    /// The same FMA chain per element, written plainly.
    fn reference<T: Float>(
        a: Operand<'_, T>,
        b: Operand<'_, T>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<T> {
        let mut c = vec![T::zero(); m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for p in 0..k {
                    let x = a.data[i * a.row_stride + p * a.col_stride];
                    acc = x.mul_add(b.data[p * b.row_stride + j * b.col_stride], acc);
                }
                c[i * n + j] = acc;
            }
        }
        c
    }

    fn isas() -> Vec<Isa> {
        match isa() {
            Some(Isa::Avx512) => vec![Isa::Avx512, Isa::Avx2],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => vec![],
        }
    }

    /// Every remainder of rows (1..=9) and of columns around the vector
    /// widths, plain and transposed operands, set and accumulated: the bits
    /// equal the plain FMA chain, on every instruction set.
    fn matches_reference<T: Float>() {
        for isa in isas() {
            for m in 1..=9 {
                for n in [1, 3, 4, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 40, 64, 65] {
                    for k in [1, 2, 5, 16] {
                        let (a, b) = (values::<T>(m * k, m), values::<T>(k * n, n));
                        let layouts = [
                            (
                                Operand {
                                    data: &a[..],
                                    row_stride: k,
                                    col_stride: 1,
                                },
                                Operand {
                                    data: &b[..],
                                    row_stride: n,
                                    col_stride: 1,
                                },
                            ),
                            (
                                Operand {
                                    data: &a[..],
                                    row_stride: 1,
                                    col_stride: m,
                                },
                                Operand {
                                    data: &b[..],
                                    row_stride: 1,
                                    col_stride: k,
                                },
                            ),
                        ];
                        for (lhs, rhs) in layouts {
                            let expect = reference(lhs, rhs, m, k, n);
                            let mut c = vec![T::of(0.5); m * n];
                            matmul_on(isa, &mut c, lhs, rhs, (m, k, n), false);
                            assert_eq!(c, expect, "{isa:?} {m}x{k}x{n}");
                            matmul_on(isa, &mut c, lhs, rhs, (m, k, n), true);
                            let doubled: Vec<T> = expect.iter().map(|&v| v + v).collect();
                            assert_eq!(c, doubled, "{isa:?} {m}x{k}x{n} accumulated");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn f32_products_are_the_plain_fma_chain() {
        matches_reference::<f32>();
    }

    #[test]
    fn f64_products_are_the_plain_fma_chain() {
        matches_reference::<f64>();
    }

    #[test]
    fn a_larger_product_after_a_smaller_one_reuses_the_pack_buffer() {
        for (m, k, n) in [(2, 3, 70), (5, 40, 33), (3, 2, 5)] {
            let (a, b) = (values::<f32>(m * k, 1), values::<f32>(k * n, 2));
            let lhs = Operand {
                data: &a[..],
                row_stride: k,
                col_stride: 1,
            };
            // Transposed, so that it is packed.
            let rhs = Operand {
                data: &b[..],
                row_stride: 1,
                col_stride: k,
            };
            if suits(m, k, n) {
                let mut c = vec![0.0; m * n];
                matmul(&mut c, lhs, rhs, (m, k, n), false);
                assert_eq!(c, reference(lhs, rhs, m, k, n));
            }
        }
    }
}
