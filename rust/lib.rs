//! The compute core of fnn: dense feedforward networks trained on all CPU cores.
//!
//! Everything here is plain Rust; the PyO3 binding lives in `python/` behind the
//! `python` feature. The core is stateless between calls: parameters and optimizer
//! state come in as slices and go back out, so the Python side owns them.
//! The math each module implements is written down in `docs/engine-spec.md`.

// Tests may unwrap: a panic there is a failing test, not a user-facing crash.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod activation;
pub mod batch;
mod block_sums;
mod bucket_sort;
mod cache;
pub mod dropout;
pub mod error;
pub mod features;
mod first_layer_gradient;
pub mod float;
pub mod fma_peak;
pub mod linalg;
pub mod loss;
mod narrow_block;
pub mod network;
pub mod objective;
pub mod optim;
pub mod parallel;
pub mod penalty;
mod placement;
pub mod rng;
pub mod simd;
pub mod small_matmul;
pub mod team;
pub mod timeline;
pub mod train;
pub mod update;
mod vector;
pub mod vmath;
pub mod workspace;

#[cfg(feature = "python")]
mod python;

#[cfg(test)]
mod inference_tests;
#[cfg(test)]
mod robustness_tests;

pub use error::FnnError;
pub use float::Float;
