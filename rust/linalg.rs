//! The one place that computes matrix products: the `gemm` crate
//! (runtime-selected AVX2/FMA/AVX-512 kernels, rayon-parallel) for large
//! ones, [`crate::small_matmul`] for those too small to pay for `gemm`'s
//! packing and threads. The choice depends on the shape only, so results
//! never depend on the thread count.
//!
//! Matrices are described by strides, so transposed operands are views, never
//! copies. The safe wrapper checks that every view fits its slice before the
//! unsafe call.

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::parallel::Par;
use crate::small_matmul::{self, Operand};

/// Multiply-adds below which a `gemm` product runs on one thread: smaller
/// products lose more to waking a second thread than they gain from it
/// (criterion `gemm_*`; see BENCHMARKS.md, "Measurements behind the code's constants").
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

/// [`matmul`] through the given route.
pub fn matmul_by<T: Float>(
    route: Route,
    dst: &mut [T],
    lhs: View<'_, T>,
    rhs: View<'_, T>,
    accumulate: bool,
    par: Par,
) -> Result<()> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if rhs.rows != k || dst.len() < m * n || !lhs.fits() || !rhs.fits() {
        return Err(FnnError::Shape(format!(
            "matmul of {}x{} by {}x{} into {} elements",
            lhs.rows,
            lhs.cols,
            rhs.rows,
            rhs.cols,
            dst.len()
        )));
    }
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
        small_matmul::matmul(dst, lhs.operand(), rhs.operand(), (m, k, n), accumulate);
        return Ok(());
    }
    // Always the rayon path (with 1 thread when serial): gemm picks its column
    // blocking by path, and one path keeps results identical at any thread
    // count. Products below `GEMM_PARALLEL_MIN_MACS` stay on one thread.
    let threads = if m.saturating_mul(k).saturating_mul(n) < GEMM_PARALLEL_MIN_MACS {
        1
    } else {
        par.threads.max(1)
    };
    let parallelism = gemm::Parallelism::Rayon(threads);
    // SAFETY: every view was checked to lie inside its slice, `dst` holds m*n
    // elements, and `dst` cannot alias the inputs (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
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
            parallelism,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
