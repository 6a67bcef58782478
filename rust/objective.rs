//! Whole-data entry points outside the training loop: predictions in chunks
//! of rows, and the full-batch objective with its gradient (what L-BFGS and
//! the gradient checks evaluate).

use crate::error::Result;
use crate::features::Features;
use crate::float::Float;
use crate::loss::Output;
use crate::network::{Network, Rows};
use crate::parallel::Par;
use crate::workspace::{zeroed, Workspace};

/// Rows per inference pass: bounds the workspace of large predictions.
pub const PREDICT_ROWS: usize = 4096;

impl Network {
    /// The network's outputs on every row of `x` (row-major, `rows ×
    /// outputs`): logits, or with `output` the output function applied.
    pub fn predict<T: Float>(
        &self,
        params: &[T],
        x: &Features<'_, T>,
        output: Option<Output>,
        par: Par,
    ) -> Result<Vec<T>> {
        let d0 = self.sizes()[0];
        let rows = x.rows(d0);
        x.check(rows, d0, "X")?;
        let k = self.n_outputs();
        let mut ws = Workspace::<T>::for_inference(self, rows.clamp(1, PREDICT_ROWS))?;
        let mut out = zeroed::<T>(rows, k)?;
        for start in (0..rows).step_by(PREDICT_ROWS) {
            let n = (rows - start).min(PREDICT_ROWS);
            self.forward_rows(params, &mut ws, x, start, n, par)?;
            let logits = ws.logits_mut(n, self);
            if let Some(output) = output {
                logits
                    .chunks_exact_mut(k)
                    .for_each(|row| output.apply_row(row));
            }
            out[start * k..(start + n) * k].copy_from_slice(logits);
        }
        Ok(out)
    }

    /// The objective of spec section 4 on all of `data`, penalty included,
    /// and its gradient (flat, shaped like the parameters).
    pub fn loss_and_gradients<T: Float>(
        &self,
        params: &[T],
        data: Rows<'_, T>,
        alpha: f64,
        l1: f64,
    ) -> Result<(f64, Vec<T>)> {
        let mut ws = Workspace::<T>::new(self, data.rows, &[])?;
        self.forward(params, &mut ws, data.x, data.rows, None, Par::SERIAL)?;
        let loss = self.backward(params, &mut ws, data, alpha, l1, false, Par::SERIAL)?;
        Ok((loss, ws.grad))
    }
}
