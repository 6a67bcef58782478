//! Input rows: a dense row-major matrix or a sparse CSR matrix.
//!
//! Sparse inputs are densified one minibatch at a time into the workspace, so
//! memory stays proportional to the non-zeros.

use crate::cache;
use crate::error::{FnnError, Result};
use crate::float::Float;

/// The feature matrix of a data set (`rows × features`).
#[derive(Clone, Copy, Debug)]
pub enum Features<'a, T> {
    /// Row-major values.
    Dense(&'a [T]),
    /// Compressed sparse rows: row `i` has `values[indptr[i]..indptr[i+1]]`
    /// at columns `indices[...]`.
    Csr {
        /// `rows + 1` offsets into `indices` and `values`: 0 first,
        /// non-decreasing, the number of stored values last.
        indptr: &'a [i64],
        /// The column of each stored value.
        indices: &'a [i64],
        /// The stored (non-zero) values, row after row.
        values: &'a [T],
    },
}

impl<T: Float> Features<'_, T> {
    /// Number of rows, given the feature count.
    pub fn rows(&self, features: usize) -> usize {
        match self {
            Features::Dense(x) => x.len() / features.max(1),
            Features::Csr { indptr, .. } => indptr.len().saturating_sub(1),
        }
    }

    /// Checks the matrix is `rows × features` and well formed.
    pub fn check(&self, rows: usize, features: usize, what: &str) -> Result<()> {
        match *self {
            Features::Dense(x) => {
                if rows.checked_mul(features) != Some(x.len()) {
                    return Err(FnnError::Shape(format!(
                        "{what} has {} values, expected {rows} rows of {features}",
                        x.len()
                    )));
                }
            }
            Features::Csr {
                indptr,
                indices,
                values,
            } => {
                let nnz = values.len();
                let well_formed = indptr.len().checked_sub(1) == Some(rows)
                    && indptr.first() == Some(&0)
                    && indptr.last().is_some_and(|&e| e as usize == nnz)
                    && indptr.windows(2).all(|w| w[0] <= w[1])
                    && indices.len() == nnz
                    && indices.iter().all(|&j| j >= 0 && (j as usize) < features);
                if !well_formed {
                    return Err(FnnError::Shape(format!(
                        "{what} is not a valid CSR matrix of {rows} rows and {features} columns"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks that rows `start..start + n` exist and, for CSR, are well formed:
    /// what [`Features::write_row`] needs, at the cost of reading those rows.
    pub fn check_rows(&self, start: usize, n: usize, features: usize) -> Result<()> {
        let total = self.rows(features);
        let end = start.checked_add(n).filter(|&end| end <= total);
        let Some(end) = end else {
            return Err(FnnError::Shape(format!(
                "rows {start}..{start}+{n} lie outside the {total} rows of the input"
            )));
        };
        if let (
            Features::Csr {
                indptr,
                indices,
                values,
            },
            true,
        ) = (*self, n > 0)
        {
            let span = &indptr[start..=end];
            let well_formed = span.windows(2).all(|w| 0 <= w[0] && w[0] <= w[1])
                && span[n] as usize <= indices.len().min(values.len())
                && indices[span[0] as usize..span[n] as usize]
                    .iter()
                    .all(|&j| j >= 0 && (j as usize) < features);
            if !well_formed {
                return Err(FnnError::Shape(format!(
                    "rows {start}..{end} of the CSR input are malformed"
                )));
            }
        }
        Ok(())
    }

    /// Writes row `i` densely into `out` (length = feature count); the row must
    /// have passed [`Features::check`] or [`Features::check_rows`].
    #[inline]
    pub fn write_row(&self, i: usize, out: &mut [T]) {
        match *self {
            Features::Dense(x) => {
                let d = out.len();
                copy_row(out, &x[i * d..(i + 1) * d]);
            }
            Features::Csr {
                indptr,
                indices,
                values,
            } => {
                out.fill(T::zero());
                let (start, end) = (indptr[i] as usize, indptr[i + 1] as usize);
                for (&j, &v) in indices[start..end].iter().zip(&values[start..end]) {
                    out[j as usize] = v;
                }
            }
        }
    }

    /// Asks the CPU to start loading dense row `i` (of `d` features) into
    /// cache, so that a gather of scattered rows waits on several rows' misses
    /// at once instead of one after another. Does nothing for CSR rows or rows
    /// outside the input.
    #[inline]
    pub fn prefetch_row(&self, i: usize, d: usize) {
        if let Features::Dense(x) = *self {
            prefetch_row(x, i, d);
        }
    }

    /// Rows `start..start + n` as a contiguous slice, when stored densely.
    pub fn dense_rows(&self, start: usize, n: usize, features: usize) -> Option<&[T]> {
        match *self {
            Features::Dense(x) => Some(&x[start * features..(start + n) * features]),
            Features::Csr { .. } => None,
        }
    }

    /// Whether every stored value is finite.
    pub fn all_finite(&self) -> bool {
        match *self {
            Features::Dense(x) => all_finite(x),
            Features::Csr { values, .. } => all_finite(values),
        }
    }
}

/// Whether every value is finite: `0 · v` is 0 for a finite `v` and NaN
/// otherwise, summed in eight independent lanes that the compiler
/// vectorises (a short-circuiting `all` is not).
pub fn all_finite<T: Float>(x: &[T]) -> bool {
    let mut lanes = [T::zero(); 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v * T::zero();
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(T::zero(), |a, &v| a + v * T::zero());
    lanes.iter().fold(tail, |a, &l| a + l) == T::zero()
}

/// Asks the CPU to start loading row `i` (of `d` values) of the row-major
/// matrix `x` into L2 ([`cache::prefetch`]). Does nothing for a row outside
/// `x`.
#[inline]
pub(crate) fn prefetch_row<T>(x: &[T], i: usize, d: usize) {
    if let Some(row) = x.get(i * d..(i + 1) * d) {
        cache::prefetch(row);
    }
}

/// Rows this short or shorter are copied without a `memcpy` call.
const SHORT_ROW: usize = 16;

/// `dst.copy_from_slice(src)`, without a `memcpy` call for short rows:
/// gathering a batch of iris rows (4 features, 3 targets) spent more time
/// calling `memcpy` than copying.
#[inline]
pub(crate) fn copy_row<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    if n > SHORT_ROW {
        dst.copy_from_slice(src);
        return;
    }
    assert_eq!(n, src.len(), "copy_row: lengths differ");
    // Two fixed-size copies, from the front and from the back, cover any
    // length from `w` to `2w`: each is a few vector moves, where a loop of
    // unknown length would become a `memcpy` call.
    match n {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => copy_ends::<T, 2>(dst, src),
        4..=7 => copy_ends::<T, 4>(dst, src),
        _ => copy_ends::<T, 8>(dst, src),
    }
}

/// Copies the first and the last `W` values of `src` (`W ≤ len ≤ 2W`).
#[inline(always)]
fn copy_ends<T: Copy, const W: usize>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    dst[..W].copy_from_slice(&src[..W]);
    dst[n - W..].copy_from_slice(&src[n - W..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_every_short_length_are_copied_whole() {
        for len in 0..=40 {
            let src: Vec<f32> = (0..len).map(|i| i as f32 + 0.5).collect();
            let mut dst = vec![-1.0f32; len];
            copy_row(&mut dst, &src);
            assert_eq!(dst, src, "{len}");
        }
    }

    #[test]
    fn all_finite_finds_one_nan_or_infinity_anywhere() {
        for len in [0, 1, 7, 8, 9, 33] {
            let clean: Vec<f64> = (0..len).map(|i| i as f64 - 3.5).collect();
            assert!(all_finite(&clean), "{len}");
            for at in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut x = clean.clone();
                    x[at] = bad;
                    assert!(!all_finite(&x), "{len}, {bad} at {at}");
                    assert!(!Features::Dense(&x).all_finite());
                }
            }
        }
        assert!(all_finite(&[f32::MAX, f32::MIN, -0.0]));
    }

    #[test]
    fn csr_rows_densify_to_the_dense_rows() {
        // [[0, 2, 0], [0, 0, 0], [1, 0, 3]]
        let csr = Features::Csr {
            indptr: &[0, 1, 1, 3],
            indices: &[1, 0, 2],
            values: &[2.0, 1.0, 3.0],
        };
        csr.check(3, 3, "X").unwrap();
        let mut row = [9.0; 3];
        csr.write_row(2, &mut row);
        assert_eq!(row, [1.0, 0.0, 3.0]);
        csr.write_row(1, &mut row);
        assert_eq!(row, [0.0, 0.0, 0.0]);
        assert_eq!(csr.rows(3), 3);
    }

    #[test]
    fn malformed_csr_is_an_error() {
        let out_of_range = Features::Csr {
            indptr: &[0, 1],
            indices: &[5],
            values: &[1.0f64],
        };
        assert!(out_of_range.check(1, 3, "X").is_err());
        let decreasing = Features::Csr {
            indptr: &[0, 2, 1],
            indices: &[0, 1],
            values: &[1.0f64, 2.0],
        };
        assert!(decreasing.check(2, 3, "X").is_err());
    }
}
