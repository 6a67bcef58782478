//! The PyO3 binding layer: NumPy views in, the core called with the GIL
//! released, `FnnError` mapped to Python exceptions in one place.
//!
//! Arrays cross as flat, C-contiguous 1-D buffers with their dimensions passed
//! beside them; `fnn._rust_engine` and `fnn.functional` do the reshaping.

mod convert;
mod kernels;
mod machine;
mod parse;
mod predictor;
mod supervise;
mod threads;
mod training;

use pyo3::prelude::*;

/// The extension module `fnn._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(training::init_params, m)?)?;
    m.add_function(wrap_pyfunction!(training::fit_epochs, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::forward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::loss_and_gradients, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::activate, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::activation_derivative, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::rng_bits, m)?)?;
    m.add_function(wrap_pyfunction!(threads::default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(machine::fma_peak_gflops, m)?)?;
    m.add_class::<predictor::Predictor>()?;
    // The thread variables count as they are when fnn is imported.
    crate::parallel::env_threads();
    Ok(())
}
