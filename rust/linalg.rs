//! The one place that computes matrix products: the `gemm` crate
//! (runtime-selected AVX2/FMA/AVX-512 kernels, rayon-parallel) for large
//! ones, [`crate::small_matmul`] for those too small to pay for `gemm`'s
//! packing and threads. The choice depends on the shape only, so results
//! never depend on the thread count.
//!
//! Matrices are described by strides, so transposed operands are views, never
//! copies. The safe wrapper checks that every view fits its slice before the
//! unsafe call.

use rayon::prelude::*;

use crate::activation::Activation;
use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::parallel::Par;
use crate::small_matmul::{self, Epilogue, Operand};
use crate::team;

/// Multiply-adds from which a network's widest product is left to share its
/// own work (in [`TILED_MIN_MACS`] tiles) instead of the batch being cut into
/// row blocks ([`crate::batch::blocks_for`]) (criterion `gemm_*`; see
/// BENCHMARKS.md, "Measurements behind the code's constants").
pub const GEMM_PARALLEL_MIN_MACS: usize = 1 << 23;

/// A strided read-only matrix view over a slice.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> View<'a, T> {
    /// The row-major `rows × cols` matrix stored in `data`.
    pub fn rows(data: &'a [T], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of the row-major `rows × cols` matrix in `data`
    /// (a `cols × rows` view).
    pub fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn operand(self) -> Operand<'a, T> {
        Operand {
            data: self.data,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        last < self.data.len()
    }
}

/// Which implementation computes a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// By shape: [`small_matmul`] where it [suits](small_matmul::suits), else `gemm`.
    Auto,
    /// Always `gemm` (for benchmarks that compare the two).
    Gemm,
}

/// `dst (m × n, row-major) = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`.
pub fn matmul<T: Float>(
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    accumulate: bool,
    par: Par,
) -> Result<()> {
    matmul_by(Route::Auto, dst, lhs, rhs, accumulate, par)
}

/// [`matmul`] (stored, not accumulated) with each result finished by
/// `epilogue`: in the product's own pass where the small path computes it,
/// else as passes over the rows while the `gemm` output is in cache. The
/// same operations either way, so the same bits.
pub fn matmul_then<T: Float>(
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    epilogue: Epilogue<'_, T>,
    par: Par,
) -> Result<()> {
    let (m, k, n) = check(dst, lhs, rhs)?;
    if epilogue.bias.is_some_and(|b| b.len() < n)
        || epilogue.relu_gate.is_some_and(|a| a.len() < m * n)
    {
        return Err(FnnError::Shape(format!(
            "a {m}x{n} product's bias needs {n} values and its gate {} values",
            m * n
        )));
    }
    if m > 0 && n > 0 && k > 0 && small_matmul::suits(m, k, n) {
        if m == 1 && one_row_shared(dst, lhs, rhs, (k, n), epilogue, par) {
            return Ok(());
        }
        small_matmul::matmul_then(
            dst,
            lhs.operand(),
            rhs.operand(),
            (m, k, n),
            false,
            epilogue,
        );
        return Ok(());
    }
    matmul(dst, lhs, rhs, false, par)?;
    let Epilogue {
        bias,
        relu,
        relu_gate,
    } = epilogue;
    if bias.is_none() && !relu && relu_gate.is_none() {
        return Ok(());
    }
    par.for_rows(&mut dst[..m * n], n, |first_row, chunk| {
        if let Some(b) = bias {
            for row in chunk.chunks_exact_mut(n) {
                row.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
            }
        }
        if relu {
            Activation::Relu.apply(chunk);
        }
        if let Some(a) = relu_gate {
            Activation::Relu.multiply_derivative(&a[first_row * n..][..chunk.len()], chunk);
        }
    });
    Ok(())
}

/// The fewest weights (`k × n`) of a one-row product that [`one_row_shared`]
/// cuts among the threads: a one-row product reads each weight once, so it
/// runs at the speed its weights come from the cache; on several cores each
/// reads its own columns' share, which stays in that core's L2 from one call
/// to the next (see BENCHMARKS.md, "One-row predict").
pub const SHARED_ROW_MIN_WEIGHTS: usize = 1 << 16;

/// Whether a one-row product through `k × n` weights is cut among a lent
/// team's threads ([`one_row_shared`]): at least [`SHARED_ROW_MIN_WEIGHTS`]
/// of them, on the small path (a larger product goes to `gemm`).
pub fn shares_one_row(k: usize, n: usize) -> bool {
    k.saturating_mul(n) >= SHARED_ROW_MIN_WEIGHTS && small_matmul::suits(1, k, n)
}

/// A one-row product on the small path (stored, not accumulated) with a
/// row-major right-hand matrix that [`shares_one_row`], cut into one run of
/// whole-vector columns per thread on the thread's current team: a
/// `Predictor`'s, lent for a call, or a one-row batch's in training. Returns
/// whether it ran. Each result is the small path's whatever the cut (one
/// chain; a one-column product has a single tile), so the bits are the
/// serial product's.
fn one_row_shared<T: Float>(
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    (k, n): (usize, usize),
    epilogue: Epilogue<'_, T>,
    par: Par,
) -> bool {
    if par.threads <= 1 || rhs.col_stride != 1 || !shares_one_row(k, n) {
        return false;
    }
    // Whole 512-bit vectors per thread, at least two blocks of them.
    let lanes = 64 / size_of::<T>();
    let cols = n
        .div_ceil(par.threads)
        .next_multiple_of(lanes)
        .max(2 * lanes);
    let jobs = dst[..n].chunks_mut(cols).enumerate();
    team::share(par, jobs, |(t, out)| {
        let start = t * cols;
        let width = out.len();
        let columns = small_matmul::Operand {
            data: &rhs.data[start..],
            row_stride: rhs.row_stride,
            col_stride: 1,
        };
        let tile = Epilogue {
            bias: epilogue.bias.map(|b| &b[start..]),
            relu: epilogue.relu,
            relu_gate: epilogue.relu_gate.map(|a| &a[start..]),
        };
        small_matmul::matmul_then(out, lhs.operand(), columns, (1, k, width), false, tile);
    })
}

/// `dst[j] = Σ_i m[i·cols + j]`, each column summed over the rows in order
/// from zero: a layer's bias gradient, `1ᵀ·Δ`. On the small path that is a
/// product whose left-hand row is ones, each step `fma(1, d, s) = s + d`
/// exactly, so the bits are the plain row-by-row loop's.
pub fn column_sums<T: Float>(dst: &mut [T], m: &[T], cols: usize) {
    let rows = m.len() / cols.max(1);
    let dst = &mut dst[..cols];
    if rows > 0 && cols > 0 && small_matmul::suits(1, rows, cols) {
        let one = [T::one()];
        // Every element of a view with zero strides is the one value.
        let ones = Operand {
            data: &one[..],
            row_stride: 0,
            col_stride: 0,
        };
        let rhs = Operand {
            data: m,
            row_stride: cols,
            col_stride: 1,
        };
        small_matmul::matmul(dst, ones, rhs, (1, rows, cols), false);
        return;
    }
    dst.fill(T::zero());
    for row in m.chunks_exact(cols) {
        dst.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
    }
}

/// The product's `(m, k, n)`; `Err` unless the views fit their slices, agree
/// on `k` and `dst` holds the result.
fn check<T>(dst: &[T], lhs: View<'_, T>, rhs: View<'_, T>) -> Result<(usize, usize, usize)> {
    if rhs.rows != lhs.cols || dst.len() < lhs.rows * rhs.cols || !lhs.fits() || !rhs.fits() {
        return Err(FnnError::Shape(format!(
            "matmul of {}x{} by {}x{} into {} elements",
            lhs.rows,
            lhs.cols,
            rhs.rows,
            rhs.cols,
            dst.len()
        )));
    }
    Ok((lhs.rows, lhs.cols, rhs.cols))
}

/// [`matmul`] through the given route.
pub fn matmul_by<T: Float>(
    route: Route,
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    accumulate: bool,
    par: Par,
) -> Result<()> {
    let (m, k, n) = check(dst, lhs, rhs)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return Ok(());
    }
    if route == Route::Auto && small_matmul::suits(m, k, n) {
        let once = !accumulate && m == 1;
        if once && one_row_shared(dst, lhs, rhs, (k, n), Epilogue::NONE, par) {
            return Ok(());
        }
        small_matmul::matmul(dst, lhs.operand(), rhs.operand(), (m, k, n), accumulate);
        return Ok(());
    }
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs >= TILED_MIN_MACS && n >= 2 * TILE_COLS {
        tiled_gemm(dst, lhs, rhs, accumulate, par);
    } else {
        // SAFETY: every view was checked to lie inside its slice, `dst` holds
        // m*n elements, and `dst` cannot alias the inputs (it is borrowed
        // mutably).
        unsafe { serial_gemm(dst.as_mut_ptr(), n, lhs, rhs, accumulate) };
    }
    Ok(())
}

/// Products of at least this many multiply-adds are cut into column tiles
/// that run on all threads (see [`tiled_gemm`]).
pub const TILED_MIN_MACS: usize = 1 << 22;

/// Columns per tile of a tiled product: whole 512-bit vectors of f32 and f64.
pub const TILE_COLS: usize = 64;

/// A large product cut into tiles of [`TILE_COLS`] result columns, each a
/// one-thread `gemm` product, the tiles on `par`'s threads: on the thread's
/// current [`crate::team::Team`] during a one-block batch's step, else on
/// rayon's.
///
/// Every tile is computed the same way whichever thread takes it, and the cut
/// depends on the shape alone, so the bits never depend on the thread count.
/// `gemm`'s own rayon split was measured slower than one thread on the mnist
/// net's forward product (BENCHMARKS.md, "Measurements behind the code's
/// constants").
fn tiled_gemm<T: Float>(
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    accumulate: bool,
    par: Par,
) {
    let n = rhs.cols;
    let out = SharedOut(dst.as_mut_ptr());
    let tile = |t: usize| {
        let (start, end) = (t * TILE_COLS, ((t + 1) * TILE_COLS).min(n));
        let columns = View {
            data: &rhs.data[start * rhs.col_stride..],
            rows: rhs.rows,
            cols: end - start,
            row_stride: rhs.row_stride,
            col_stride: rhs.col_stride,
        };
        // SAFETY: the product's views were checked to lie inside their slices
        // and `dst` to hold m×n values; this tile writes only columns
        // `start..end` of it, which no other tile writes, and reads the same
        // rows of `rhs`' columns `start..end`, inside its slice.
        unsafe { serial_gemm(out.at(start), n, lhs, columns, accumulate) };
    };
    let tiles = n.div_ceil(TILE_COLS);
    if par.threads <= 1 {
        (0..tiles).for_each(tile);
        return;
    }
    if team::share(par, 0..tiles, tile) {
        return;
    }
    if rayon::current_thread_index().is_some() {
        (0..tiles).into_par_iter().for_each(tile);
    } else {
        (0..tiles).for_each(tile);
    }
}

/// The result's pointer, shared by tiles that write disjoint columns.
#[derive(Clone, Copy)]
struct SharedOut<T>(*mut T);

// SAFETY: tiles write disjoint elements through it (see `tiled_gemm`).
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// The pointer `offset` elements in.
    ///
    /// # Safety
    /// `offset` must lie inside the result.
    unsafe fn at(self, offset: usize) -> *mut T {
        // SAFETY: the caller keeps `offset` inside the result.
        unsafe { self.0.add(offset) }
    }
}

/// `dst (rows of dst_stride) = lhs · rhs` (`+=` with `accumulate`) on this
/// thread, through `gemm`'s rayon path with one thread: one path for every
/// product keeps `gemm`'s column blocking, and so its bits, the same.
///
/// # Safety
/// `lhs` and `rhs` must lie inside their slices (checked by the caller), `dst`
/// must point at `lhs.rows` rows of `dst_stride` values with `rhs.cols`
/// writable ones each, not aliasing the inputs.
unsafe fn serial_gemm<T: Float>(
    dst: *mut T,
    dst_stride: usize,
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    accumulate: bool,
) {
    // SAFETY: the caller's contract above is `gemm`'s.
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst,
            1,
            dst_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::Rayon(1),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::Float;
    use crate::team::Team;

    /// One row through weights wide enough to share: on a lent team of 2–4
    /// threads, the bits of the serial small product, epilogue included.
    fn one_row_shared_is_the_serial_product<T: Float>() {
        let value = |i: usize| T::of(((i * 7919) % 997) as f64 / 512.0 - 0.97);
        for (k, n) in [(300, 257), (784, 256), (256, 300)] {
            assert!(k * n >= SHARED_ROW_MIN_WEIGHTS && small_matmul::suits(1, k, n));
            let x: Vec<T> = (0..k).map(value).collect();
            let w: Vec<T> = (0..k * n).map(|i| value(i + 5)).collect();
            let bias: Vec<T> = (0..n).map(|i| value(i + 11)).collect();
            let gate: Vec<T> = (0..n).map(|i| value(i + 3)).collect();
            let (lhs, rhs) = (View::rows(&x, 1, k), View::rows(&w, k, n));
            for (relu, relu_gate) in [(true, None), (false, Some(&gate[..]))] {
                let epilogue = Epilogue {
                    bias: Some(&bias),
                    relu,
                    relu_gate,
                };
                let mut serial = vec![T::zero(); n];
                matmul_then(&mut serial, lhs, rhs, epilogue, Par::SERIAL).unwrap();
                for threads in [2, 3, 4] {
                    let mut shared = vec![T::of(f64::NAN); n];
                    crate::parallel::run_with_threads(threads, || {
                        let mut team = Team::new(threads, 8);
                        crate::team::with_current(&mut team, || {
                            let par = Par { threads };
                            matmul_then(&mut shared, lhs, rhs, epilogue, par).unwrap();
                        });
                        assert_eq!(team.rounds(), 1, "{k}x{n} on {threads} threads");
                    })
                    .unwrap();
                    let bits = |v: &[T]| v.iter().map(|x| x.f64().to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&shared), bits(&serial), "{k}x{n} on {threads} threads");
                }
            }
        }
    }

    #[test]
    fn a_one_row_product_shared_on_a_team_is_the_serial_bits() {
        one_row_shared_is_the_serial_product::<f32>();
        one_row_shared_is_the_serial_product::<f64>();
    }

    /// A product too large for the small path gets the epilogue as passes:
    /// the bits of the plain passes after the same product.
    #[test]
    fn the_gemm_route_finishes_the_epilogue_as_passes() {
        let (m, k, n) = (96, 160, 40);
        assert!(!small_matmul::suits(m, k, n));
        let value = |i: usize| ((i * 7919) % 997) as f64 / 512.0 - 0.97;
        let a: Vec<f64> = (0..m * k).map(value).collect();
        let b: Vec<f64> = (0..k * n).map(|i| value(i + 5)).collect();
        let bias: Vec<f64> = (0..n).map(|i| value(i + 11)).collect();
        let gate: Vec<f64> = (0..m * n).map(|i| value(i + 3)).collect();
        let (lhs, rhs) = (View::rows(&a, m, k), View::rows(&b, k, n));
        for par in [Par::SERIAL, Par { threads: 2 }] {
            let mut plain = vec![0.0; m * n];
            matmul(&mut plain, lhs, rhs, false, par).unwrap();
            let mut want = plain.clone();
            for (i, v) in want.iter_mut().enumerate() {
                *v += bias[i % n];
                *v = if *v < 0.0 { 0.0 } else { *v };
                *v *= if gate[i] > 0.0 { 1.0 } else { 0.0 };
            }
            let epilogue = Epilogue {
                bias: Some(&bias),
                relu: true,
                relu_gate: Some(&gate),
            };
            let mut got = vec![f64::NAN; m * n];
            crate::parallel::run_with_threads(par.threads, || {
                matmul_then(&mut got, lhs, rhs, epilogue, par).unwrap()
            })
            .unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want));
        }
        let short = Epilogue {
            bias: Some(&bias[..n - 1]),
            ..Epilogue::NONE
        };
        let mut out = vec![0.0; m * n];
        assert!(matches!(
            matmul_then(&mut out, lhs, rhs, short, Par::SERIAL),
            Err(FnnError::Shape(_))
        ));
    }

    #[test]
    fn column_sums_are_the_row_by_row_loop() {
        for cols in [1, 3, 8, 31, 32, 33, 64, 100, 130] {
            for rows in [1, 2, 7, 66] {
                let m: Vec<f64> = (0..rows * cols)
                    .map(|i| match i % 11 {
                        0 => -0.0,
                        r => ((i * 7919) % 997) as f64 / 512.0 - 0.97 + r as f64 * 1e-17,
                    })
                    .collect();
                let mut want = vec![0.0f64; cols];
                for row in m.chunks_exact(cols) {
                    want.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
                }
                let mut got = vec![f64::NAN; cols];
                column_sums(&mut got, &m, cols);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{rows}x{cols}");
            }
        }
    }

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn seq(len: usize, scale: f64) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) * scale)
            .collect()
    }

    #[test]
    fn plain_and_transposed_products_match_naive() {
        let (m, k, n) = (7, 5, 3);
        let a = seq(m * k, 0.5);
        let b = seq(k * n, 0.25);
        let mut c = vec![0.0; m * n];
        matmul(
            &mut c,
            View::rows(&a, m, k),
            View::rows(&b, k, n),
            false,
            Par::SERIAL,
        )
        .unwrap();
        assert_eq!(c, naive(&a, &b, m, k, n));

        // aᵀ (k × m) times a c-shaped (m × n) matrix, with aᵀ as a view.
        let mut d = vec![1.0; k * n];
        matmul(
            &mut d,
            View::transposed(&a, m, k),
            View::rows(&c, m, n),
            true,
            Par::SERIAL,
        )
        .unwrap();
        let mut at = vec![0.0; k * m];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        let expect: Vec<f64> = naive(&at, &c, k, m, n).iter().map(|x| x + 1.0).collect();
        assert_eq!(d, expect);
    }

    #[test]
    fn inconsistent_shapes_are_an_error_not_a_panic() {
        let a = vec![0.0f32; 6];
        let mut c = vec![0.0f32; 4];
        let err = matmul(
            &mut c,
            View::rows(&a, 2, 3),
            View::rows(&a, 2, 3),
            false,
            Par::SERIAL,
        );
        assert!(matches!(err, Err(FnnError::Shape(_))));
    }

    #[test]
    fn tiled_products_are_the_same_bytes_on_any_number_of_threads_and_near_naive() {
        // 64 × 256 by 256 × 300: 4.9 M multiply-adds, five tiles, the last narrow.
        let (m, k, n) = (64, 256, 300);
        assert!(m * k * n >= TILED_MIN_MACS);
        let a = seq(m * k, 0.01);
        let b = seq(k * n, 0.02);
        let expect = naive(&a, &b, m, k, n);
        let mut first: Option<Vec<f64>> = None;
        // Tiles on rayon's threads, then on a training step's team.
        for (threads, on_team) in [1, 2, 3, 4]
            .into_iter()
            .flat_map(|t| [(t, false), (t, true)])
        {
            let mut c = vec![0.5; m * n];
            let par = Par { threads };
            let product =
                |c: &mut [f64]| matmul(c, View::rows(&a, m, k), View::rows(&b, k, n), false, par);
            crate::parallel::run_with_threads(threads, || {
                if on_team {
                    let mut team = crate::team::Team::new(threads, 8);
                    crate::team::with_current(&mut team, || product(&mut c))
                } else {
                    product(&mut c)
                }
            })
            .unwrap()
            .unwrap();
            for (x, y) in c.iter().zip(&expect) {
                assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()));
            }
            match &first {
                None => first = Some(c),
                Some(f) => assert!(c == *f, "{threads} threads, on a team: {on_team}"),
            }
        }
        // Transposed operands (a weight gradient's layout), accumulated.
        let at = View::transposed(&a, m, k); // k × m
        let bt = seq(m * n, 0.03);
        let mut g = vec![1.0; k * n];
        let mut g2 = g.clone();
        let mut g3 = g.clone();
        matmul(&mut g, at, View::rows(&bt, m, n), true, Par::SERIAL).unwrap();
        crate::parallel::run_with_threads(2, || {
            matmul(&mut g2, at, View::rows(&bt, m, n), true, Par { threads: 2 })
        })
        .unwrap()
        .unwrap();
        assert!(g == g2);
        // On a team: a tile run twice would add its product twice.
        crate::parallel::run_with_threads(2, || {
            let mut team = crate::team::Team::new(2, 8);
            crate::team::with_current(&mut team, || {
                matmul(&mut g3, at, View::rows(&bt, m, n), true, Par { threads: 2 })
            })
        })
        .unwrap()
        .unwrap();
        assert!(g == g3);
    }
}
