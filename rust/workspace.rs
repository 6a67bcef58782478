//! The per-layer buffers of one forward/backward pass, allocated once per
//! call so that the batch loop allocates nothing.
//!
//! A [`Workspace`] holds what a pass over up to `capacity` rows writes: each
//! layer's outputs, the dropout buffers, the deltas and the gradient. The
//! rows it reads (the gathered batch) live apart, in
//! [`crate::batch::BatchBuffers`], so that several workspaces can read one
//! batch: each block of a batch has its own.

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::network::Network;

fn too_large() -> FnnError {
    FnnError::Config(
        "the network's buffers do not fit in memory; use fewer or narrower layers".into(),
    )
}

/// A zeroed `rows × width` buffer; sizes that do not fit in memory are an
/// error, not an abort.
pub(crate) fn zeroed<T: Float>(rows: usize, width: usize) -> Result<Vec<T>> {
    let len = rows.checked_mul(width).ok_or_else(too_large)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_large())?;
    v.resize(len, T::zero());
    Ok(v)
}

/// Buffers for one pass of up to `capacity` rows, allocated once.
pub struct Workspace<T> {
    pub(crate) capacity: usize,
    /// The layer sizes of the network the buffers were made for.
    pub(crate) sizes: Vec<usize>,
    /// Each layer's output (after dropout); the last holds the logits.
    pub(crate) acts: Vec<Vec<T>>,
    /// Hidden outputs before dropout, kept only for layers with dropout.
    pub(crate) pre_dropout: Vec<Vec<T>>,
    /// Dropout scales (0 or 1/(1−p)) for layers with dropout.
    pub(crate) masks: Vec<Vec<T>>,
    /// Gradients of the loss with respect to each layer's pre-activation.
    pub(crate) deltas: Vec<Vec<T>>,
    /// Dense copies of sparse input rows, made on first use by inference.
    pub(crate) dense_input: Vec<T>,
    /// The gradient of the pass's objective, shaped like the parameters.
    pub grad: Vec<T>,
}

impl<T: Float> Workspace<T> {
    /// Buffers for training `net` on passes of at most `capacity` rows;
    /// dropout buffers only for hidden layers whose rate is positive. Sizes
    /// that do not fit in memory are an error, not an abort.
    pub fn new(net: &Network, capacity: usize, dropout_rates: &[f64]) -> Result<Self> {
        let s = net.sizes();
        let hidden_buf = |h: usize| {
            let rate = dropout_rates.get(h).copied().unwrap_or(0.0);
            zeroed(if rate > 0.0 { capacity } else { 0 }, s[h + 1])
        };
        let hidden = 0..net.n_layers() - 1;
        Ok(Workspace {
            capacity,
            sizes: s.to_vec(),
            acts: layer_buffers(net, capacity)?,
            pre_dropout: hidden.clone().map(hidden_buf).collect::<Result<_>>()?,
            masks: hidden.map(hidden_buf).collect::<Result<_>>()?,
            deltas: layer_buffers(net, capacity)?,
            dense_input: Vec::new(),
            grad: zeroed(net.n_params(), 1)?,
        })
    }

    /// Buffers for inference only, for `net` and passes of at most
    /// `capacity` rows: each layer's outputs and nothing for training (no
    /// deltas or gradient, which for one row cost more to allocate and zero
    /// than the pass itself). `backward` rejects this workspace.
    pub fn for_inference(net: &Network, capacity: usize) -> Result<Self> {
        let no_dropout = || vec![Vec::new(); net.n_layers() - 1];
        Ok(Workspace {
            capacity,
            sizes: net.sizes().to_vec(),
            acts: layer_buffers(net, capacity)?,
            pre_dropout: no_dropout(),
            masks: no_dropout(),
            deltas: Vec::new(),
            dense_input: Vec::new(),
            grad: Vec::new(),
        })
    }

    /// Whether the workspace has the buffers `backward` needs.
    pub(crate) fn can_train(&self, net: &Network) -> bool {
        self.grad.len() == net.n_params() && self.deltas.len() == net.n_layers()
    }

    /// The most rows one pass can take.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The logits of the last forward pass (`rows × outputs`).
    pub fn logits(&self, rows: usize, net: &Network) -> &[T] {
        &self.acts[net.n_layers() - 1][..rows * net.n_outputs()]
    }

    /// Mutable logits, for turning them into predictions in place.
    pub fn logits_mut(&mut self, rows: usize, net: &Network) -> &mut [T] {
        let k = net.n_outputs();
        &mut self.acts[net.n_layers() - 1][..rows * k]
    }
}

/// One zeroed `capacity × width` buffer per layer output.
fn layer_buffers<T: Float>(net: &Network, capacity: usize) -> Result<Vec<Vec<T>>> {
    let s = net.sizes();
    (0..net.n_layers())
        .map(|l| zeroed(capacity, s[l + 1]))
        .collect()
}

/// The sum `S` of sample weights; `Err` unless positive (a batch whose
/// weights sum to zero or NaN has no mean loss).
pub fn weight_sum<T: Float>(weights: &[T]) -> Result<T> {
    let sum: T = weights.iter().copied().sum();
    if sum > T::zero() {
        Ok(sum)
    } else {
        Err(FnnError::Shape(
            "a batch's sample weights must sum to a positive number".into(),
        ))
    }
}
