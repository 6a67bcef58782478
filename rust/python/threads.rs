//! fnn's thread count as threadpoolctl sees it.
//!
//! threadpoolctl finds libraries among the loaded shared objects by file name
//! and exported symbol; these two C functions make `fnn._core` one of them, so
//! `threadpool_limits(1)` caps fnn and `threadpool_info()` lists it (the
//! controller class lives in `fnn._threads`).

use std::os::raw::c_int;

use pyo3::prelude::*;

use crate::parallel::{default_threads as core_default_threads, set_thread_limit};

/// The threads fnn uses when not told otherwise.
#[no_mangle]
pub extern "C" fn fnn_get_num_threads() -> c_int {
    c_int::try_from(core_default_threads()).unwrap_or(c_int::MAX)
}

/// Caps the threads fnn uses when not told otherwise (<= 0 lifts the cap).
#[no_mangle]
pub extern "C" fn fnn_set_num_threads(n: c_int) {
    set_thread_limit(usize::try_from(n).unwrap_or(0));
}

/// The threads fnn uses when `n_jobs` is None: the threadpoolctl cap, else
/// `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS`, else the core count.
#[pyfunction]
pub fn default_threads() -> usize {
    core_default_threads()
}
