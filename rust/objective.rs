//! Whole-data entry points outside the training loop: predictions in chunks
//! of rows, and the full-batch objective with its gradient (what L-BFGS and
//! the gradient checks evaluate).

use rayon::prelude::*;

use crate::batch::block_rows;
use crate::error::Result;
use crate::features::Features;
use crate::float::Float;
use crate::loss::Output;
use crate::network::{Network, Rows};
use crate::parallel::Par;
use crate::simd::FlushSubnormals;
use crate::workspace::{zeroed, Workspace};

/// Rows per inference pass: bounds the workspace of large predictions.
pub const PREDICT_ROWS: usize = 4096;

/// The least forward work (multiply-adds) of an inference block: enough that
/// each product amortises its call and handing the block to another thread.
pub const PREDICT_BLOCK_WORK: usize = 1 << 22;

/// The fewest rows of an inference block.
pub const PREDICT_BLOCK_MIN_ROWS: usize = 64;

/// Rows per inference block of `net`: a function of the shape alone, so that
/// a row's bits never depend on the thread count.
pub fn predict_block_rows(net: &Network) -> usize {
    let per_row: usize = net.sizes().windows(2).map(|w| w[0] * w[1]).sum();
    (PREDICT_BLOCK_WORK / per_row.max(1)).clamp(PREDICT_BLOCK_MIN_ROWS, PREDICT_ROWS)
}

impl Network {
    /// The network's outputs on every row of `x` (row-major, `rows ×
    /// outputs`): logits, or with `output` the output function applied.
    ///
    /// Rows are cut into the fewest blocks of nearly equal size that are no
    /// longer than [`predict_block_rows`] (the cut depends on the row count
    /// and the shape, never on the threads); each block runs
    /// the whole forward pass on one thread, so several blocks keep every
    /// core busy without handing each product to the pool, and a block's
    /// activations stay in cache between layers.
    pub fn predict<T: Float>(
        &self,
        params: &[T],
        x: &Features<'_, T>,
        output: Option<Output>,
        par: Par,
    ) -> Result<Vec<T>> {
        self.predict_reusing(params, x, output, par, &mut None)
    }

    /// [`Network::predict`], taking its workspace from `spare` when the
    /// blocks run one at a time (one block, or one thread) and leaving it
    /// there for the next call: a one-row prediction then allocates only
    /// its output. The bytes are those of [`Network::predict`].
    pub fn predict_reusing<T: Float>(
        &self,
        params: &[T],
        x: &Features<'_, T>,
        output: Option<Output>,
        par: Par,
        spare: &mut Option<Workspace<T>>,
    ) -> Result<Vec<T>> {
        // As in training, and as on fnn's pool workers: subnormals flushed,
        // so a result never depends on which thread computed it.
        let _flush = FlushSubnormals::new();
        let d0 = self.sizes()[0];
        let rows = x.rows(d0);
        x.check(rows, d0, "X")?;
        let k = self.n_outputs();
        let mut out = zeroed::<T>(rows, k)?;
        // Blocks of nearly equal size, none longer than the shape allows.
        let n_blocks = rows.div_ceil(predict_block_rows(self)).max(1);
        let capacity = rows.div_ceil(n_blocks).max(1);
        let mut blocks = Vec::with_capacity(n_blocks);
        let mut rest = &mut out[..];
        for b in 0..n_blocks {
            let (start, end) = block_rows(b, n_blocks, rows);
            let (dst, tail) = rest.split_at_mut((end - start) * k);
            blocks.push((start, dst));
            rest = tail;
        }
        let run = |ws: &mut Workspace<T>, start: usize, dst: &mut [T], inner: Par| {
            let n = dst.len() / k;
            self.forward_rows(params, ws, x, start, n, inner)?;
            let logits = ws.logits_mut(n, self);
            if let Some(output) = output {
                logits
                    .chunks_exact_mut(k)
                    .for_each(|row| output.apply_row(row));
            }
            dst.copy_from_slice(logits);
            Ok(())
        };
        if par.threads <= 1 || n_blocks == 1 {
            // One block at a time; a single block may share out its products.
            let ws = match spare {
                Some(ws) if ws.capacity() >= capacity && ws.sizes == self.sizes() => ws,
                // At most `predict_block_rows` rows: a spare stays small.
                _ => spare.insert(Workspace::<T>::for_inference(self, capacity)?),
            };
            for (start, dst) in blocks {
                run(ws, start, dst, par)?;
            }
        } else {
            blocks.into_par_iter().try_for_each_init(
                || Workspace::<T>::for_inference(self, capacity),
                |ws, (start, dst)| match ws {
                    Ok(ws) => run(ws, start, dst, Par::SERIAL),
                    Err(e) => Err(e.clone()),
                },
            )?;
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
        self.forward(params, &mut ws, data.x, data.rows, false, Par::SERIAL)?;
        let loss = self.backward(params, &mut ws, data, alpha, l1, false, Par::SERIAL)?;
        Ok((loss, ws.grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::loss::Loss;
    use crate::parallel::run_with_threads;

    #[test]
    fn predictions_cut_into_blocks_are_the_same_bytes_on_any_number_of_threads() {
        let net = Network::new(
            vec![64, 100, 10],
            vec![Activation::Relu],
            Loss::SoftmaxLogLoss,
        )
        .unwrap();
        let mut params = vec![0.0f32; net.n_params()];
        net.init_params(1, &mut params).unwrap();
        let rows = 1500;
        assert!(rows > 2 * predict_block_rows(&net), "several blocks");
        let x: Vec<f32> = (0..rows * 64).map(|i| (i as f32 * 0.013).sin()).collect();
        let features = Features::Dense(&x);
        let predict = |threads: usize| {
            run_with_threads(threads, || {
                net.predict(&params, &features, Some(Output::Softmax), Par { threads })
            })
            .unwrap()
            .unwrap()
        };
        let serial = predict(1);
        assert_eq!(serial.len(), rows * 10);
        let row_sums_are_one = serial
            .chunks_exact(10)
            .all(|p| (p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(row_sums_are_one);
        for threads in [2, 3, 4] {
            let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&predict(threads)), bits(&serial), "{threads} threads");
        }
    }

    #[test]
    fn a_reused_workspace_gives_the_bytes_of_a_fresh_one() {
        let net =
            Network::new(vec![5, 7, 3], vec![Activation::Tanh], Loss::SoftmaxLogLoss).unwrap();
        let mut params = vec![0.0f64; net.n_params()];
        net.init_params(3, &mut params).unwrap();
        let x: Vec<f64> = (0..9000 * 5).map(|i| (i as f64 * 0.37).cos()).collect();
        let mut spare = None;
        // Growing, shrinking and several-block row counts, one spare throughout.
        for rows in [1, 3, 200, 2, 9000, 1] {
            let features = Features::Dense(&x[..rows * 5]);
            let fresh = net.predict(&params, &features, None, Par::SERIAL).unwrap();
            let reused = net
                .predict_reusing(&params, &features, None, Par::SERIAL, &mut spare)
                .unwrap();
            assert_eq!(fresh.len(), rows * 3);
            assert_eq!(fresh, reused, "{rows} rows");
            let capacity = spare.as_ref().map(Workspace::capacity);
            assert!(capacity.is_some_and(|c| c <= predict_block_rows(&net)));
        }
    }
}
