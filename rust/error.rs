//! The one error type of the core. Nothing a caller passes in can make the core
//! panic: inconsistent shapes and settings come back as `FnnError`.

use thiserror::Error;

/// Why a core call did not complete.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FnnError {
    /// Buffers whose lengths do not match the network or each other.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A setting outside its domain.
    #[error("invalid setting: {0}")]
    Config(String),
    /// The training loss or the parameters stopped being finite.
    #[error(
        "training diverged: the loss is not finite at epoch {epoch}; \
         lower the learning rate or scale the inputs"
    )]
    Diverged {
        /// The 1-based epoch whose loss was not finite.
        epoch: usize,
    },
    /// The caller's monitor asked to stop (e.g. Ctrl-C, or a callback raised).
    #[error("interrupted")]
    Interrupted,
    /// A bug in fnn itself, such as a panic on a worker thread: never the
    /// caller's input (Python's `RuntimeError`, not `ValueError`).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for core results.
pub type Result<T> = std::result::Result<T, FnnError>;

/// `Err(Shape)` unless `actual == expected`.
pub fn check_len(what: &str, actual: usize, expected: usize) -> Result<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(FnnError::Shape(format!(
            "{what} has {actual} elements, expected {expected}"
        )))
    }
}
