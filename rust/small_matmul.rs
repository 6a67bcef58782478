//! Matrix products too small for the `gemm` crate to pay off.
//!
//! On the shapes of tiny networks (16×4 by 4×16, 16×16 by 16×3), `gemm`'s
//! dispatch, packing and per-call allocations cost more than the
//! arithmetic. This path reads a row-major right-hand matrix in place (a
//! row's last, partial vector through a masked load) and packs only a
//! transposed one, into a reused per-thread buffer. It keeps an `MR × NR`
//! block of the result in registers while it walks the shared dimension,
//! broadcasting one left-hand value per row. An [`Epilogue`] finishes each
//! result there (a layer's bias and ReLU, or ReLU's derivative), so that a
//! small layer's product needs no pass over its output of its own. A result
//! of a few columns (a weight gradient into a narrow output layer) is
//! computed as its transpose, whose rows fill the vectors, when that reads
//! its left-hand matrix in place.
//!
//! Every output element is one chain of fused multiply-adds in the order
//! `p = 0, 1, …, k−1`, whatever the vector width, so the AVX2 and AVX-512
//! versions give identical bits. The exception is a result of one column
//! from a row-major left-hand matrix (an output layer of one unit): one
//! chain per row would use one lane of each vector, so each row's dot
//! product runs as 16 (`f32`) or 8 (`f64`) interleaved chains added in a
//! fixed tree (`dot_rows`), the same on both instruction sets.
//!
//! It runs on one thread: products this small lose more to waking a second
//! thread than they gain.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::features::copy_row;
use crate::float::Float;
use crate::vector::{load_lanes, store_lanes, unrolled, Vector};

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

impl<'a, T> Operand<'a, T> {
    /// The same elements as the transposed matrix.
    fn transposed(self) -> Self {
        Operand {
            data: self.data,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// The instruction sets this path has versions for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
}

/// The widest version this CPU runs, or `None` (no FMA, or not x86).
pub(crate) fn isa() -> Option<Isa> {
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

/// Every version this CPU runs, widest first (for tests that compare
/// them).
#[cfg(test)]
pub(crate) fn isas() -> Vec<Isa> {
    match isa() {
        Some(Isa::Avx512) => vec![Isa::Avx512, Isa::Avx2],
        Some(Isa::Avx2) => vec![Isa::Avx2],
        None => vec![],
    }
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
    /// A narrow product's transposed result ([`transposed_product`]).
    static TRANSPOSED: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// What a product does to each result before storing it, while the result
/// is still in registers: add a bias per column, then ReLU, then multiply
/// by ReLU's derivative. The order and the operations are those of the
/// separate passes it replaces (`v + b`, the select, `v · 1` or `v · 0`),
/// so the bits are theirs.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a, T> {
    /// Added to every row of the result (`n` values).
    pub bias: Option<&'a [T]>,
    /// ReLU after the bias.
    pub relu: bool,
    /// Last, each result times ReLU's derivative at the same element of
    /// this row-major `m × n` matrix (a hidden layer's outputs): the delta
    /// below a ReLU layer.
    pub relu_gate: Option<&'a [T]>,
}

impl<T> Epilogue<'_, T> {
    /// Results stored as computed.
    pub const NONE: Self = Epilogue {
        bias: None,
        relu: false,
        relu_gate: None,
    };

    fn is_none(&self) -> bool {
        self.bias.is_none() && !self.relu && self.relu_gate.is_none()
    }
}

impl<T: Float> Epilogue<'_, T> {
    /// The epilogue on one vector of results: `lanes` columns from column
    /// `col` of the row that starts at element `row_start` of the result.
    ///
    /// # Safety
    /// Only from code compiled for `V`'s instruction set, for columns and a
    /// row inside the `m × n` result, whose bias holds `n` values and whose
    /// gate `m × n`.
    #[inline(always)]
    unsafe fn finish<V: Vector<T>>(
        &self,
        vector: V,
        row_start: usize,
        col: usize,
        lanes: usize,
    ) -> V {
        // SAFETY: the instruction set as the caller's; the columns lie in the
        // bias and, from `row_start`, in the gate (this function's contract),
        // and a partial last vector is read masked.
        unsafe {
            let mut v = vector;
            if let Some(b) = self.bias {
                v = V::add(v, load_lanes(b.as_ptr().add(col), lanes));
            }
            if self.relu {
                v = v.relu();
            }
            if let Some(a) = self.relu_gate {
                v = v.relu_gate(load_lanes(a.as_ptr().add(row_start + col), lanes));
            }
            v
        }
    }
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
    dims: (usize, usize, usize),
    accumulate: bool,
) {
    matmul_then(dst, lhs, rhs, dims, accumulate, Epilogue::NONE);
}

/// [`matmul`], each result finished by `epilogue` (whose bias, if any,
/// holds `n` values). An epilogue only with `accumulate` false.
pub fn matmul_then<T: Float>(
    dst: &mut [T],
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    epilogue: Epilogue<'_, T>,
) {
    assert!(
        size_of::<T>() == 4 || size_of::<T>() == 8,
        "only f32 and f64 are supported"
    );
    assert!(
        epilogue.bias.is_none_or(|b| b.len() >= n),
        "a bias per column"
    );
    assert!(
        epilogue.relu_gate.is_none_or(|a| a.len() >= m * n),
        "a gate per result"
    );
    assert!(
        !accumulate || epilogue.is_none(),
        "an epilogue on a product that is stored, not accumulated"
    );
    let Some(isa) = isa() else {
        unreachable!("small_matmul::matmul called where `suits` is false");
    };
    matmul_on(isa, dst, lhs, rhs, (m, k, n), accumulate, epilogue);
}

/// [`matmul`] with the given instruction set's version (which the CPU has).
fn matmul_on<T: Float>(
    isa: Isa,
    dst: &mut [T],
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    epilogue: Epilogue<'_, T>,
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
    if lhs.row_stride == 1 && !accumulate && epilogue.is_none() && transposing_pays::<T>(isa, m, n)
    {
        // `lhsᵀ` is row-major (`lhs` is a weight gradient's `xᵀ`, or a single
        // column): `rhsᵀ · lhsᵀ` reads it in place, and its wide rows fill
        // the vectors that `n` columns would leave mostly empty.
        transposed_product(isa, dst, lhs, rhs, (m, k, n));
        return;
    }
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
            epilogue,
        });
        return;
    }
    // Otherwise (a transposed view) a row-major copy: one strided pass
    // instead of one per row block.
    with_row_major(rhs, k, n, |pack| {
        run(Job {
            dst,
            lhs,
            rhs: pack,
            rhs_stride: n,
            m,
            k,
            n,
            accumulate,
            epilogue,
        })
    });
}

/// Whether `isa`'s version computes an `m × n` result faster as its
/// transpose: `n` columns leave a vector partly empty, and `m` fill at
/// least a whole one.
fn transposing_pays<T>(isa: Isa, m: usize, n: usize) -> bool {
    let bytes = match isa {
        Isa::Avx512 => 64,
        Isa::Avx2 => 32,
    };
    let lanes = bytes / size_of::<T>();
    n < lanes && m >= lanes
}

/// `dst (m × n) = lhs · rhs` computed as `rhsᵀ · lhsᵀ` (`n × m`) and stored
/// transposed. Each result is the same chain of fused multiply-adds, its two
/// factors swapped (`fma(a, b, c) = fma(b, a, c)` exactly), so the bits are
/// those of the product computed directly.
fn transposed_product<T: Float>(
    isa: Isa,
    dst: &mut [T],
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
    (m, k, n): (usize, usize, usize),
) {
    with_buffer(&TRANSPOSED, m * n, |result: &mut [T]| {
        matmul_on(
            isa,
            result,
            rhs.transposed(),
            lhs.transposed(),
            (n, k, m),
            false,
            Epilogue::NONE,
        );
        let stored = Operand {
            data: result,
            row_stride: 1,
            col_stride: m,
        };
        copy_row_major(dst, stored, m, n);
    });
}

/// The fewest rows from which [`copy_row_major`] reads a matrix with
/// contiguous columns down its columns: shorter columns make loops of a few
/// trips, slower than writing whole rows from strided reads (an output
/// layer's weights of 3 units, packed transposed: the tiny fit 4–5% faster,
/// wine's step 3–6%). Only 3 rows were measured; 8, a float64 vector, keeps
/// digits' 10 where they were. See BENCHMARKS.md, "Measurements behind the
/// code's constants".
const COLUMN_READ_MIN_ROWS: usize = 8;

/// Writes the `rows × cols` matrix `src` (any strides) into `dst`,
/// row-major, reading along whichever of its dimensions is contiguous
/// (columns from [`COLUMN_READ_MIN_ROWS`] rows).
/// The indices are checked once, not per element: a copy that checks each
/// cost more than the small product it feeds.
fn copy_row_major<T: Copy>(dst: &mut [T], src: Operand<'_, T>, rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    // Checked, so that no wrapped product can pass the bounds check below.
    let last = (rows - 1)
        .checked_mul(src.row_stride)
        .and_then(|r| (cols - 1).checked_mul(src.col_stride)?.checked_add(r));
    let size = rows.checked_mul(cols);
    assert!(
        size.is_some_and(|size| dst.len() >= size)
            && last.is_some_and(|last| src.data.len() > last),
        "a copied matrix outside its slices"
    );
    let (from, to) = (src.data.as_ptr(), dst.as_mut_ptr());
    // SAFETY: every index read is at most `last`, inside `src.data`, and
    // every one written below `rows · cols`, inside `dst`; both computed
    // without overflow (asserted above).
    unsafe {
        if src.row_stride == 1 && src.col_stride != 1 && rows >= COLUMN_READ_MIN_ROWS {
            // Columns are contiguous: read them whole, write down them.
            for j in 0..cols {
                let column = from.add(j * src.col_stride);
                for i in 0..rows {
                    *to.add(i * cols + j) = *column.add(i);
                }
            }
        } else {
            for i in 0..rows {
                let row = from.add(i * src.row_stride);
                for j in 0..cols {
                    *to.add(i * cols + j) = *row.add(j * src.col_stride);
                }
            }
        }
    }
}

/// Calls `f` with a row-major copy of the `k × n` matrix `rhs` (any
/// strides), in a per-thread buffer reused across calls. `f` must not
/// itself make such a copy (the buffer is borrowed while it runs).
pub(crate) fn with_row_major<T: Float, R>(
    rhs: Operand<'_, T>,
    k: usize,
    n: usize,
    f: impl FnOnce(&[T]) -> R,
) -> R {
    with_buffer(&PACK, k * n, |pack: &mut [T]| {
        copy_row_major(pack, rhs, k, n);
        f(pack)
    })
}

/// Calls `f` with the first `len` values of the per-thread buffer `cell`,
/// grown as needed and viewed as `T`s. `f` must not use `cell` itself.
fn with_buffer<T: Float, R>(
    cell: &'static LocalKey<RefCell<Vec<f64>>>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    assert!(
        size_of::<T>() == 4 || size_of::<T>() == 8,
        "only f32 and f64 are supported"
    );
    cell.with(|cell| {
        let mut storage = cell.borrow_mut();
        let bytes = len
            .checked_mul(size_of::<T>())
            .expect("a buffer of fewer than 2^64 bytes");
        let words = bytes.div_ceil(size_of::<f64>());
        if storage.len() < words {
            storage.resize(words, 0.0);
        }
        // SAFETY: `T` is f32 or f64 (asserted above): any bit pattern is a
        // valid value, and the f64 storage is aligned for either.
        let values: &mut [T] =
            unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast(), len) };
        f(values)
    })
}

/// The dot products of a one-column product's rows take this many
/// interleaved chains: one 512-bit vector's lanes (16 `f32`, 8 `f64`), two
/// 256-bit vectors on AVX2, so the bits are the same on either.
fn dot_chains<T>() -> usize {
    64 / size_of::<T>()
}

/// `Σ_p a_r[p]·w[p]` for the `R` rows `a_r = a + r·stride` (`k` values
/// each) and the column `w` (`k` values): chain `c` of [`dot_chains`] takes
/// the multiply-adds at `p ≡ c` in order from zero (the last, partial round
/// multiplying zeros past `k`), and the chains are added in a fixed tree,
/// halves first (`s[c] + s[c + half]`). Vectorised along `p`, where the
/// plain chain would leave all but one lane of a vector empty.
///
/// # Safety
/// Only from code compiled for `V`'s instruction set (256 or 512 bits),
/// with `k` values readable at each row and at `w`.
#[inline(always)]
pub(crate) unsafe fn dot_rows<T: Float, V: Vector<T>, const R: usize>(
    a: *const T,
    stride: usize,
    w: *const T,
    k: usize,
) -> [T; R] {
    let chains = dot_chains::<T>();
    let vectors = chains / V::LANES;
    debug_assert!(vectors * V::LANES == chains && (1..=2).contains(&vectors));
    // SAFETY: the contract; whole rounds read inside `0..k`, and the last
    // one reads only its lanes below `k` (masked), zeros past them.
    unsafe {
        let mut acc = [[V::zero(); 2]; R];
        let whole = k / chains * chains;
        let mut p = 0;
        while p < whole {
            unrolled!(2, v, {
                if v < vectors {
                    let wv = V::load(w.add(p + v * V::LANES));
                    unrolled!(R, r, {
                        let av = V::load(a.add(r * stride + p + v * V::LANES));
                        acc[r][v] = V::fma(av, wv, acc[r][v]);
                    });
                }
            });
            p += chains;
        }
        if whole < k {
            unrolled!(2, v, {
                if v < vectors {
                    let start = whole + v * V::LANES;
                    let lanes = k.saturating_sub(start).min(V::LANES);
                    let load = |at: *const T| {
                        if lanes > 0 {
                            load_lanes::<T, V>(at, lanes)
                        } else {
                            V::zero()
                        }
                    };
                    let wv = load(w.add(start));
                    unrolled!(R, r, {
                        acc[r][v] = V::fma(load(a.add(r * stride + start)), wv, acc[r][v]);
                    });
                }
            });
        }
        let mut sums = [T::zero(); R];
        unrolled!(R, r, {
            let mut lanes = [T::zero(); 16];
            unrolled!(2, v, {
                if v < vectors {
                    acc[r][v].store(lanes.as_mut_ptr().add(v * V::LANES));
                }
            });
            let mut width = chains;
            while width > 1 {
                width /= 2;
                for c in 0..width {
                    lanes[c] += lanes[c + width];
                }
            }
            sums[r] = lanes[0];
        });
        sums
    }
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
    epilogue: Epilogue<'a, T>,
}

/// The most columns one block covers: two 512-bit vectors of `f32`.
const MAX_BLOCK_COLS: usize = 32;

/// Vectors per block for products of one or two rows on AVX-512 (32
/// registers): 8 or 16 independent chains, against an FMA latency of 4
/// cycles at up to 2 FMAs a cycle. Sixteen were slower on the one-row mnist forward (criterion
/// `predict_1_row_mnist`; see BENCHMARKS.md).
const WIDE_AVX512: usize = 8;

/// [`WIDE_AVX512`] for AVX2, which has 16 registers.
const WIDE_AVX2: usize = 4;

impl<T: Float> Job<'_, T> {
    /// Column blocks of two vectors (of `WIDE` first, for one or two rows),
    /// the last one of one vector when that
    /// covers what is left, or of one half-width vector `H` when half a
    /// vector covers it (after a whole one, when one and a half do). A
    /// narrow output layer's columns then cost half the lanes (and, on CPUs
    /// that split a 512-bit operation in two, half the time); each result
    /// is the same FMA chain at any width.
    ///
    /// # Safety
    /// Only from code compiled for `V`'s and `H`'s instruction sets.
    #[inline(always)]
    unsafe fn run<V: Vector<T>, H: Vector<T>, const MR: usize, const WIDE: usize>(mut self) {
        // SAFETY: the caller is compiled for `V`'s and `H`'s instruction
        // sets (this function's contract), which `column_block` needs; each
        // column block lies inside `0..n`, the rows of `rhs` are readable
        // that far, and a block's partial last vector is read masked.
        unsafe {
            if self.n == 1 && self.lhs.col_stride == 1 && self.rhs_stride == 1 {
                self.column::<V>();
                return;
            }
            let mut j = 0;
            // One or two rows give a block of two vectors only two or four
            // chains of multiply-adds, each waiting on the one before: whole
            // blocks of `WIDE` vectors keep enough chains in flight to fill
            // the FMA units.
            let wide = WIDE * V::LANES;
            while self.m <= 2 && self.n - j >= wide {
                match self.m {
                    1 => self.block::<V, 1, WIDE, false>(0, j, wide),
                    _ => self.block::<V, 2, WIDE, false>(0, j, wide),
                }
                j += wide;
            }
            while j < self.n {
                let left = self.n - j;
                if H::LANES < V::LANES && left <= H::LANES {
                    self.half_block::<H, MR>(j, left);
                    return;
                }
                if H::LANES < V::LANES && left > V::LANES && left <= V::LANES + H::LANES {
                    // One whole vector and a half one (10 columns in f64):
                    // cheaper than two whole ones, the second mostly empty.
                    self.column_block::<V, MR, 1, false>(j, V::LANES);
                    self.half_block::<H, MR>(j + V::LANES, left - V::LANES);
                    return;
                }
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

    /// The last `cols` (at most `H::LANES`) columns from `j`, on
    /// half-width vectors.
    ///
    /// # Safety
    /// As [`Job::column_block`], for `H`'s instruction set.
    #[inline(always)]
    unsafe fn half_block<H: Vector<T>, const MR: usize>(&mut self, j: usize, cols: usize) {
        // SAFETY: the caller's contract, which is `column_block`'s; a block
        // short of a whole vector reads its last one masked.
        unsafe {
            if cols == H::LANES {
                self.column_block::<H, MR, 1, false>(j, cols);
            } else {
                self.column_block::<H, MR, 1, true>(j, cols);
            }
        }
    }

    /// A one-column result (an output layer of one unit): each row's dot
    /// product with the column in [`dot_rows`]' order, four rows at a time.
    ///
    /// # Safety
    /// As [`Job::run`], for a job with `n == 1`, row-major `lhs` and a
    /// contiguous column (`rhs_stride == 1`).
    #[inline(always)]
    unsafe fn column<V: Vector<T>>(&mut self) {
        // SAFETY: the caller's contract; every block is inside `0..m`.
        unsafe {
            let mut i = 0;
            while i < self.m {
                match self.m - i {
                    1 => self.column_rows::<V, 1>(i),
                    2 => self.column_rows::<V, 2>(i),
                    3 => self.column_rows::<V, 3>(i),
                    _ => self.column_rows::<V, 4>(i),
                }
                i += 4;
            }
        }
    }

    /// Rows `i..i + R` of a one-column result, each stored (or added) as a
    /// one-lane vector through the same epilogue as the other products.
    ///
    /// # Safety
    /// As [`Job::column`], for rows inside `0..m`.
    #[inline(always)]
    unsafe fn column_rows<V: Vector<T>, const R: usize>(&mut self, i: usize) {
        // SAFETY: the caller's contract: rows `i..i + R` of `lhs` hold `k`
        // values each, the column `k`, and `dst` `m` values.
        unsafe {
            let lhs = self.lhs;
            let sums = dot_rows::<T, V, R>(
                lhs.data.as_ptr().add(i * lhs.row_stride),
                lhs.row_stride,
                self.rhs.as_ptr(),
                self.k,
            );
            unrolled!(R, r, {
                let at = self.dst.as_mut_ptr().add(i + r);
                let v = load_lanes::<T, V>(&sums[r], 1);
                let v = if self.accumulate {
                    V::add(load_lanes(at, 1), v)
                } else {
                    self.epilogue.finish(v, i + r, 0, 1)
                };
                store_lanes(v, at, 1);
            });
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
            // Unrolled, so that every `acc[r][v]` is a register: a loop
            // over them keeps the accumulators in memory, stored and loaded
            // again for each result.
            unrolled!(R, r, {
                let out = &mut self.dst[(i + r) * n + j..(i + r) * n + j + cols];
                if cols == NV * V::LANES {
                    // Whole vectors go straight to the result.
                    unrolled!(NV, v, {
                        let at = out.as_mut_ptr().add(v * V::LANES);
                        let sum = if self.accumulate {
                            V::add(V::load(at), acc[r][v])
                        } else {
                            self.epilogue
                                .finish(acc[r][v], (i + r) * n, j + v * V::LANES, V::LANES)
                        };
                        sum.store(at);
                    });
                } else {
                    // Only blocks of at most two vectors have a partial one.
                    assert!(NV * V::LANES <= MAX_BLOCK_COLS);
                    unrolled!(NV, v, {
                        let lanes = (cols - v * V::LANES).min(V::LANES);
                        self.epilogue
                            .finish(acc[r][v], (i + r) * n, j + v * V::LANES, lanes)
                            .store(values.as_mut_ptr().add(v * V::LANES));
                    });
                    if self.accumulate {
                        out.iter_mut().zip(&values).for_each(|(o, &v)| *o += v);
                    } else {
                        copy_row(out, &values[..cols]);
                    }
                }
            });
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
            use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};
            if size_of::<T>() == 4 {
                self.cast::<f32>().run::<__m512, __m256, 8, WIDE_AVX512>()
            } else {
                self.cast::<f64>().run::<__m512d, __m256d, 8, WIDE_AVX512>()
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(self) {
        // SAFETY: as in `run_avx512`, for AVX2 and FMA and 256-bit vectors.
        unsafe {
            use std::arch::x86_64::{__m256, __m256d};
            if size_of::<T>() == 4 {
                self.cast::<f32>().run::<__m256, __m256, 6, WIDE_AVX2>()
            } else {
                self.cast::<f64>().run::<__m256d, __m256d, 6, WIDE_AVX2>()
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
                epilogue: Epilogue {
                    bias: self.epilogue.bias.map(view),
                    relu: self.epilogue.relu,
                    relu_gate: self.epilogue.relu_gate.map(view),
                },
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

    /// The same FMA chain per element, written plainly; for one column of
    /// a row-major `a` and a contiguous `b`, [`dot_rows`]' interleaved
    /// chains and their tree.
    fn reference<T: Float>(
        a: Operand<'_, T>,
        b: Operand<'_, T>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<T> {
        if n == 1 && a.col_stride == 1 && b.row_stride == 1 {
            let chains = dot_chains::<T>();
            return (0..m)
                .map(|i| {
                    let mut lanes = vec![T::zero(); chains];
                    for p in 0..k.div_ceil(chains) * chains {
                        let (x, y) = if p < k {
                            (a.data[i * a.row_stride + p], b.data[p])
                        } else {
                            (T::zero(), T::zero())
                        };
                        lanes[p % chains] = x.mul_add(y, lanes[p % chains]);
                    }
                    while lanes.len() > 1 {
                        let half = lanes.len() / 2;
                        for c in 0..half {
                            let upper = lanes[c + half];
                            lanes[c] += upper;
                        }
                        lanes.truncate(half);
                    }
                    lanes[0]
                })
                .collect();
        }
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

    /// Every remainder of rows (1..=9) and of columns around the vector
    /// widths and the few-row blocks' [`WIDE_AVX512`] vectors, plain and
    /// transposed operands, set and accumulated: the bits
    /// equal the plain FMA chain, on every instruction set.
    fn matches_reference<T: Float>() {
        for isa in isas() {
            for m in (1..=9).chain([15, 16, 17, 33, 66]) {
                for n in [
                    1, 3, 4, 7, 8, 9, 10, 12, 13, 15, 16, 17, 20, 24, 25, 31, 32, 33, 40, 64, 65,
                    128, 130, 257,
                ] {
                    // One column takes `dot_rows`: every remainder of its
                    // 8 or 16 chains.
                    let depths: &[usize] = if n == 1 {
                        &[1, 2, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100]
                    } else {
                        &[1, 2, 5, 16]
                    };
                    for &k in depths {
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
                            matmul_on(isa, &mut c, lhs, rhs, (m, k, n), false, Epilogue::NONE);
                            assert_eq!(c, expect, "{isa:?} {m}x{k}x{n}");
                            matmul_on(isa, &mut c, lhs, rhs, (m, k, n), true, Epilogue::NONE);
                            let doubled: Vec<T> = expect.iter().map(|&v| v + v).collect();
                            assert_eq!(c, doubled, "{isa:?} {m}x{k}x{n} accumulated");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn copies_into_row_major_read_every_element_at_its_strides() {
        let data: Vec<f64> = (0..200).map(f64::from).collect();
        // Contiguous columns (a transposed view), contiguous rows, and
        // neither (every second column of every seventh row).
        // Both ways of reading contiguous columns: by rows, and down them.
        let (short, long) = (COLUMN_READ_MIN_ROWS - 1, COLUMN_READ_MIN_ROWS);
        for (row_stride, col_stride) in [(1, 9), (9, 1), (7, 2), (1, 1)] {
            for (rows, cols) in [
                (1, 1),
                (3, 5),
                (9, 4),
                (5, 9),
                (0, 4),
                (4, 0),
                (short, 3),
                (long, 3),
            ] {
                let src = Operand {
                    data: &data[..],
                    row_stride,
                    col_stride,
                };
                let mut dst = vec![-1.0; rows * cols + 1];
                copy_row_major(&mut dst, src, rows, cols);
                for i in 0..rows {
                    for j in 0..cols {
                        let at = i * row_stride + j * col_stride;
                        assert_eq!(dst[i * cols + j], data[at], "{row_stride}, {col_stride}");
                    }
                }
                assert_eq!(dst[rows * cols], -1.0, "nothing past the matrix");
            }
        }
    }

    /// A `rows × cols` copy from `source` values at strides
    /// `(row_stride, col_stride)` into `dst` values.
    fn copy_sized(source: usize, (row_stride, col_stride): (usize, usize), dst: usize) {
        let data = vec![0.0f32; source];
        let src = Operand {
            data: &data,
            row_stride,
            col_stride,
        };
        copy_row_major(&mut vec![0.0; dst], src, 3, 3);
    }

    #[test]
    #[should_panic(expected = "a copied matrix outside its slices")]
    fn a_copy_from_a_source_one_element_short_panics() {
        // Rows at stride 4: the last element read, (2, 2), is at 10.
        copy_sized(10, (4, 1), 9);
    }

    #[test]
    #[should_panic(expected = "a copied matrix outside its slices")]
    fn a_copy_into_a_short_destination_panics() {
        copy_sized(9, (3, 1), 8);
    }

    #[test]
    #[should_panic(expected = "a copied matrix outside its slices")]
    fn a_copy_whose_extent_overflows_panics() {
        copy_sized(9, (usize::MAX / 2, 0), 9);
    }

    #[test]
    fn f32_products_are_the_plain_fma_chain() {
        matches_reference::<f32>();
    }

    #[test]
    fn f64_products_are_the_plain_fma_chain() {
        matches_reference::<f64>();
    }

    /// The epilogue gives the bits of the passes it replaces (`v + b`, then
    /// `if v < 0 { 0 } else { v }`, then `v · relu'(a)`), −0 and NaN included,
    /// on every width around the vectors and both layouts of the rhs.
    fn epilogue_matches_the_passes<T: Float>() {
        for isa in isas() {
            for m in [1, 2, 3, 8, 9] {
                for n in [1, 3, 4, 7, 8, 9, 10, 12, 16, 17, 31, 33, 65, 128, 130, 257] {
                    let k = 5;
                    let (a, b) = (values::<T>(m * k, m), values::<T>(k * n, n));
                    let mut bias = values::<T>(n, 3);
                    bias[0] = T::of(f64::NAN);
                    if n > 2 {
                        // A column whose every result is −0 before ReLU.
                        bias[2] = T::of(-0.0);
                    }
                    let lhs = Operand {
                        data: &a[..],
                        row_stride: k,
                        col_stride: 1,
                    };
                    let mut b = b;
                    if n > 2 {
                        (0..k).for_each(|p| b[p * n + 2] = T::zero());
                    }
                    for rhs in [
                        Operand {
                            data: &b[..],
                            row_stride: n,
                            col_stride: 1,
                        },
                        Operand {
                            data: &b[..],
                            row_stride: 1,
                            col_stride: k,
                        },
                    ] {
                        let mut expect = reference(lhs, rhs, m, k, n);
                        for (i, v) in expect.iter_mut().enumerate() {
                            *v += bias[i % n];
                        }
                        // Outputs of a layer to gate with: signs, zeros, NaN.
                        let gate: Vec<T> = (0..m * n)
                            .map(|i| match i % 5 {
                                0 => T::of(-0.0),
                                1 => T::of(f64::NAN),
                                2 => T::zero(),
                                3 => T::of(-1.5),
                                _ => T::of(0.25),
                            })
                            .collect();
                        for (relu, gated) in [(false, false), (true, false), (true, true)] {
                            let want: Vec<T> = expect
                                .iter()
                                .zip(&gate)
                                .map(|(&v, &a)| {
                                    let v = if relu && v < T::zero() { T::zero() } else { v };
                                    let d = if a > T::zero() { T::one() } else { T::zero() };
                                    if gated {
                                        v * d
                                    } else {
                                        v
                                    }
                                })
                                .collect();
                            let mut c = vec![T::of(0.5); m * n];
                            let epilogue = Epilogue {
                                bias: Some(&bias[..]),
                                relu,
                                relu_gate: gated.then_some(&gate[..]),
                            };
                            matmul_on(isa, &mut c, lhs, rhs, (m, k, n), false, epilogue);
                            let bits =
                                |v: &[T]| v.iter().map(|x| x.f64().to_bits()).collect::<Vec<_>>();
                            assert_eq!(
                                bits(&c),
                                bits(&want),
                                "{isa:?} {m}x{k}x{n} relu {relu} gated {gated}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_epilogue_gives_the_bits_of_the_passes_it_replaces() {
        epilogue_matches_the_passes::<f32>();
        epilogue_matches_the_passes::<f64>();
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
