//! What the machine gives, for the benchmarks: its float32 FMA peak, measured.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The most threads a measurement starts.
const MAX_THREADS: usize = 1024;

/// The float32 FMA peak of `threads` threads at once in GFLOP/s, the best of
/// `repetitions` timings of a few milliseconds each (`fnn::fma_peak`);
/// `None` on a CPU without AVX2 and FMA.
#[pyfunction]
#[pyo3(signature = (threads, repetitions=20))]
pub fn fma_peak_gflops(
    py: Python<'_>,
    threads: usize,
    repetitions: usize,
) -> PyResult<Option<f64>> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(PyValueError::new_err(format!(
            "threads must be between 1 and {MAX_THREADS}, got {threads}"
        )));
    }
    Ok(py.detach(|| crate::fma_peak::gflops(threads, repetitions)))
}
