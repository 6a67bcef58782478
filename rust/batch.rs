//! One minibatch's loss and gradient on all threads (spec section 8).
//!
//! The batch is cut into row blocks by its shape alone ([`blocks_for`]): each
//! block runs forward and backward on its own rows into its own
//! [`Workspace`], on whichever thread is free; the blocks' losses are then
//! summed in block order and their gradients pairwise, in a fixed tree
//! ([`crate::block_sums`]). The cut never depends on the thread
//! count, so one thread and sixty-four give the same bytes; and since a
//! block's products are as many rows as the batch's divided by the block
//! count, a (100,) network at batch 200 keeps every core busy where a single
//! product of that size would be too small to share.
//!
//! Networks whose products are big enough for the GEMM to share among
//! threads run as one block: their batches are split inside each product.

use crate::block_sums;
use crate::dropout::Dropout;
use crate::error::{FnnError, Result};
use crate::features::{copy_row, prefetch_row, Features};
use crate::float::Float;
use crate::linalg::{GEMM_PARALLEL_MIN_MACS, TILED_MIN_MACS, TILE_COLS};
use crate::narrow_block;
use crate::network::{Network, Rows};
use crate::parallel::{Par, CHUNKS_PER_THREAD};
use crate::penalty::WeightSums;
use crate::team::{with_current, Team};
use crate::update::{sum_and_step, StepSettings, UpdatePlan};
use crate::workspace::{weight_sum, zeroed, Workspace};

/// The fewest rows a block has: fewer would leave the weight-gradient
/// products too short in their summed dimension to run at speed.
pub const MIN_BLOCK_ROWS: usize = 32;

/// The least work (multiply-adds of forward and backward) a block has: handing
/// a block to another thread has a fixed cost, and a block should be worth
/// some tens of it (see BENCHMARKS.md, "Measurements behind the code's constants").
pub const MIN_BLOCK_WORK: usize = 1 << 17;

/// How many rows ahead of its copy the gather asks for a row: enough misses
/// in flight to cover a memory round trip with a few rows' copies (see
/// BENCHMARKS.md, "Measurements behind the code's constants").
pub const PREFETCH_ROWS: usize = 8;

/// Dense training data (inputs and targets) of at most this many bytes are
/// gathered without prefetches: they likely stay in the core's caches from
/// one epoch to the next (an L2 holds 256 KiB or more on x86-64 CPUs of the
/// last fifteen years), so asking for their rows only costs instructions
/// (see BENCHMARKS.md, "Measurements behind the code's constants").
pub const CACHED_MAX_BYTES: usize = 1 << 18;

/// Gathered values from which the gather runs on all threads: each row's copy
/// waits on memory, and each thread adds its own share of requests in flight.
pub const GATHER_PARALLEL_MIN: usize = 1 << 12;

/// Multiply-adds of forward and backward per row: every layer's product
/// forward and for its weight gradient, and all but the first layer's for the
/// delta below it.
pub fn work_per_row(net: &Network) -> usize {
    let mut products = net.sizes().windows(2).map(|w| w[0] * w[1]);
    let first = products.next().unwrap_or(0);
    2 * first + 3 * products.sum::<usize>()
}

/// How many row blocks a batch of `rows` rows of `net` is cut into: one when
/// the network's widest product on `rows` rows is big enough for the GEMM's
/// own threads (see [`GEMM_PARALLEL_MIN_MACS`]); else as many as keep each
/// block at [`MIN_BLOCK_ROWS`] rows and [`MIN_BLOCK_WORK`] multiply-adds,
/// rounded down to a power of two.
/// A function of the shape alone: the thread count never enters.
pub fn blocks_for(net: &Network, rows: usize) -> usize {
    if rows.saturating_mul(widest_product(net)) >= GEMM_PARALLEL_MIN_MACS {
        return 1;
    }
    let by_work = rows.saturating_mul(work_per_row(net)) / MIN_BLOCK_WORK;
    let most = by_work.min(rows / MIN_BLOCK_ROWS).max(1);
    // A power of two shares out evenly on 2, 4, 8... threads.
    1 << most.ilog2()
}

/// The multiply-adds per row of the network's largest product.
fn widest_product(net: &Network) -> usize {
    net.sizes()
        .windows(2)
        .map(|w| w[0] * w[1])
        .max()
        .unwrap_or(0)
}

/// Rows `start..end` of block `b` of `blocks` over `rows` rows: sizes differ
/// by at most one row.
pub(crate) fn block_rows(b: usize, blocks: usize, rows: usize) -> (usize, usize) {
    (b * rows / blocks, (b + 1) * rows / blocks)
}

/// The gathered rows of one batch: inputs, targets and sample weights.
pub struct BatchBuffers<T> {
    /// `capacity × features` inputs.
    pub input: Vec<T>,
    /// `capacity × outputs` targets.
    pub targets: Vec<T>,
    /// One sample weight per row.
    pub weights: Vec<T>,
}

impl<T: Float> BatchBuffers<T> {
    /// Buffers for batches of up to `capacity` rows of `net`.
    pub fn new(net: &Network, capacity: usize) -> Result<Self> {
        Ok(BatchBuffers {
            input: zeroed(capacity, net.sizes()[0])?,
            targets: zeroed(capacity, net.n_outputs())?,
            weights: zeroed(capacity, 1)?,
        })
    }

    /// Copies the sample weights of rows `order` (1 where `None`) into the
    /// first `order.len()` weights: every block needs the batch's weight sum
    /// before its backward pass.
    fn gather_weights(&mut self, weights: Option<&[T]>, order: &[usize]) {
        for (w, &i) in self.weights.iter_mut().zip(order) {
            *w = weights.map_or(T::one(), |w| w[i]);
        }
    }

    /// The first `rows` rows, as backward reads them.
    pub fn rows(&self, rows: usize) -> Rows<'_, T> {
        Rows {
            x: &self.input,
            y: &self.targets,
            weights: &self.weights,
            rows,
        }
    }
}

/// Where a batch's rows come from: rows `order` of the training data.
#[derive(Clone, Copy)]
pub struct Source<'a, 'x, T> {
    /// The training inputs.
    pub x: &'a Features<'x, T>,
    /// The training targets, row-major.
    pub y: &'a [T],
    /// The sample weights (1 where `None`).
    pub weights: Option<&'a [T]>,
    /// The batch's rows, in order.
    pub order: &'a [usize],
    /// How many rows ahead of its copy the gather asks for a row (0: never;
    /// see [`prefetch_distance`]).
    pub prefetch: usize,
}

/// How many rows ahead the gather should ask for the rows of `x` and `y`:
/// none for dense inputs and targets of at most [`CACHED_MAX_BYTES`], which
/// stay in a core's cache from one epoch to the next, else
/// [`PREFETCH_ROWS`]. A property of the training data: callers decide it
/// once per training call, not per batch.
pub fn prefetch_distance<T>(x: &Features<'_, T>, y: &[T]) -> usize {
    match *x {
        Features::Dense(x) if size_of_val(x) + size_of_val(y) <= CACHED_MAX_BYTES => 0,
        _ => PREFETCH_ROWS,
    }
}

impl<T: Float> Source<'_, '_, T> {
    /// Copies rows `order[start..]` of `x` and `y` into `input` (rows of
    /// `d0`) and `targets` (rows of `k`), as many rows as they hold, on
    /// `par`'s threads when there are enough values.
    fn gather(
        &self,
        start: usize,
        (input, d0): (&mut [T], usize),
        (targets, k): (&mut [T], usize),
        par: Par,
    ) {
        let order = &self.order[start..];
        // Each row of X and of the targets is a miss of its own, unless the
        // data stay in cache: ask for a row's lines of both some rows before
        // copying it, and for the first rows before the first copy.
        let ahead = self.prefetch;
        let prefetch = |i: usize| {
            self.x.prefetch_row(i, d0);
            prefetch_row(self.y, i, k);
        };
        let rows = input.len() / d0.max(1);
        order
            .iter()
            .take(ahead.min(rows))
            .for_each(|&i| prefetch(i));
        // Rows are scattered over X: copying them waits on memory, which
        // every thread adds its own share of requests to.
        par.for_rows_from(GATHER_PARALLEL_MIN, input, d0, |first, block| {
            let order = &order[first..];
            for (r, (out, &i)) in block.chunks_exact_mut(d0).zip(order).enumerate() {
                if ahead > 0 {
                    if let Some(&next) = order.get(r + ahead) {
                        prefetch(next);
                    }
                }
                self.x.write_row(i, out);
            }
        });
        for (out, &i) in targets.chunks_exact_mut(k).zip(order) {
            copy_row(out, &self.y[i * k..(i + 1) * k]);
        }
    }
}

/// One job of a batch's blocks round: consecutive blocks from `first`, their
/// workspaces and losses, and their rows of the batch buffers.
struct BlockGroup<'a, T> {
    first: usize,
    workspaces: &'a mut [Workspace<T>],
    losses: &'a mut [f64],
    x: &'a mut [T],
    y: &'a mut [T],
}

/// What [`BatchStep::loss_and_gradient`] returns besides the gradient.
#[derive(Clone, Copy, Debug)]
pub struct BatchLoss<T> {
    /// The data term `Σ wᵢ ℓᵢ / S`.
    pub loss: f64,
    /// `S`, the batch's weight sum in the training type (the gradient's scale).
    pub weight_sum: T,
    /// The same sum in f64: the batch's weight in the epoch's mean loss.
    pub weight: f64,
}

/// The buffers of one training call's batches: the gathered batch, one
/// workspace per block and the optimizer step's chunks, allocated once.
pub struct BatchStep<T> {
    /// The gathered batch.
    pub batch: BatchBuffers<T>,
    blocks: Vec<Workspace<T>>,
    /// Each block's data loss `Σ wᵢ ℓᵢ`.
    losses: Vec<f64>,
    /// Blocks of the last batch.
    batch_blocks: usize,
    /// How many consecutive blocks of the last batch already have their
    /// gradients added up into the first of them (a subtree of the pairwise
    /// sum, [`crate::block_sums`]): 1 to all of them.
    summed: usize,
    /// Whether the last batch's products ran on several threads (several
    /// blocks, or one block's products cut into tiles), so that other cores
    /// read the parameters.
    spread: bool,
    plan: UpdatePlan,
    /// The batch's gradient, where the optimizer chunks finish adding up
    /// the blocks' (empty when every batch is one block).
    total: Vec<T>,
    /// The pool threads that run the blocks and the chunks (and a one-block
    /// batch's tiles and row passes), made on first use.
    team: Option<Team>,
    /// The most blocks, chunks or tiles a round of the team has.
    max_jobs: usize,
}

/// `slot`'s team, made anew when it has fewer threads than `par`.
fn team(slot: &mut Option<Team>, par: Par, max_jobs: usize) -> &mut Team {
    if slot.as_ref().is_some_and(|t| t.threads() < par.threads) {
        *slot = None;
    }
    // Rounds of blocks, chunks or tiles, or a one-block batch's row passes.
    slot.get_or_insert_with(|| {
        Team::new(par.threads, max_jobs.max(par.threads * CHUNKS_PER_THREAD))
    })
}

impl<T: Float> BatchStep<T> {
    /// Buffers for `net` on batches of up to `batch_rows` rows, with the given
    /// dropout rates per hidden layer.
    pub fn new(net: &Network, batch_rows: usize, dropout_rates: &[f64]) -> Result<Self> {
        let batch_rows = batch_rows.max(1);
        let blocks = blocks_for(net, batch_rows);
        // A short last batch may be cut into fewer, longer blocks.
        let capacity = (1..=batch_rows)
            .map(|rows| rows.div_ceil(blocks_for(net, rows)))
            .max()
            .unwrap_or(1);
        let plan = UpdatePlan::new(net);
        // A one-block batch's products share out at most this many tiles.
        let tiles = net.sizes().iter().map(|w| w.div_ceil(TILE_COLS)).max();
        Ok(BatchStep {
            max_jobs: blocks.max(plan.chunks()).max(tiles.unwrap_or(1)),
            batch: BatchBuffers::new(net, batch_rows)?,
            blocks: (0..blocks)
                .map(|_| Workspace::new(net, capacity, dropout_rates))
                .collect::<Result<_>>()?,
            losses: vec![0.0; blocks],
            batch_blocks: 1,
            summed: 1,
            spread: false,
            total: if blocks > 1 {
                vec![T::zero(); net.n_params()]
            } else {
                Vec::new()
            },
            plan,
            team: None,
        })
    }

    /// Forward and backward over a batch of `rows` rows: gathered from
    /// `source` block by block when given, else the first `rows` rows already
    /// in [`BatchStep::batch`]. Each block's share of the gradient of the
    /// data term `Σ wᵢ ℓᵢ / S` goes into its workspace, and each job adds up
    /// its own blocks' there; [`BatchStep::update`] or
    /// [`BatchStep::gradient`] adds up the rest. The term and `S` come back.
    /// No penalty: the optimizer step adds it.
    pub fn loss_and_gradient(
        &mut self,
        net: &Network,
        params: &[T],
        source: Option<Source<'_, '_, T>>,
        rows: usize,
        dropout: Option<Dropout<'_>>,
        par: Par,
    ) -> Result<BatchLoss<T>> {
        let capacity = self.batch.weights.len();
        if rows == 0 || rows > capacity || source.is_some_and(|s| s.order.len() != rows) {
            return Err(FnnError::Shape(format!(
                "a batch of {rows} rows does not fit buffers of {capacity}"
            )));
        }
        if let Some(src) = source {
            self.batch.gather_weights(src.weights, src.order);
        }
        let weights = &self.batch.weights[..rows];
        let s = weight_sum(weights)?;
        let n_blocks = blocks_for(net, rows).min(self.blocks.len());
        let (d0, k) = (net.sizes()[0], net.n_outputs());
        // Inside a block the products stay on its thread, unless the batch is
        // one block: then they may share out their own work.
        let inner = if n_blocks == 1 { par } else { Par::SERIAL };
        // Jobs of `group` consecutive blocks: a job adds up its own blocks'
        // gradients (a subtree of the pairwise sum) while they are in its
        // core's cache. Enough jobs for every thread (a power of two of
        // them: on 3 threads 4, which one thread's share of blocks makes
        // uneven); on one thread the optimizer chunks add up all of them, a
        // chunk at a time.
        let threads = par.threads.max(1);
        let group = if threads == 1 {
            1
        } else {
            n_blocks / threads.min(n_blocks).next_power_of_two()
        };
        // Each job's own rows of the batch buffers.
        let mut inputs = &mut self.batch.input[..rows * d0];
        let mut targets = &mut self.batch.targets[..rows * k];
        let jobs = self.blocks[..n_blocks]
            .chunks_mut(group)
            .zip(self.losses[..n_blocks].chunks_mut(group))
            .enumerate()
            .map(|(j, (wss, losses))| {
                let first = j * group;
                let start = block_rows(first, n_blocks, rows).0;
                let end = block_rows(first + group - 1, n_blocks, rows).1;
                let (x, x_rest) = std::mem::take(&mut inputs).split_at_mut((end - start) * d0);
                let (y, y_rest) = std::mem::take(&mut targets).split_at_mut((end - start) * k);
                (inputs, targets) = (x_rest, y_rest);
                BlockGroup {
                    first,
                    workspaces: wss,
                    losses,
                    x,
                    y,
                }
            });
        let block = |(start, ws, loss, x, y): (
            usize,
            &mut Workspace<T>,
            &mut f64,
            &mut [T],
            &mut [T],
        )|
         -> Result<()> {
            if let Some(src) = source {
                src.gather(start, (&mut *x, d0), (&mut *y, k), inner);
            }
            let block = Rows {
                x,
                y,
                weights: &weights[start..],
                rows: y.len() / k,
            };
            if let Some(d) = dropout {
                d.from_row(start).draw_masks(ws, block.rows, inner)?;
            }
            if narrow_block::suits(net, block.rows, dropout.is_some()) {
                net.check_rows(params, ws, block)?;
                *loss = narrow_block::forward_backward(net, params, ws, block, s);
                return Ok(());
            }
            // The block's rows and workspace fit by construction; `forward`
            // checks them against the network once more.
            net.forward(params, ws, block.x, block.rows, dropout.is_some(), inner)?;
            *loss = net
                .backprop(params, ws, block, s, None, dropout.is_some(), inner)?
                .0;
            Ok(())
        };
        let run = |BlockGroup {
                       first,
                       workspaces,
                       losses,
                       mut x,
                       mut y,
                   }: BlockGroup<'_, T>|
         -> Result<()> {
            for (b, (ws, loss)) in (first..).zip(workspaces.iter_mut().zip(losses)) {
                let (start, end) = block_rows(b, n_blocks, rows);
                let (bx, x_rest) = std::mem::take(&mut x).split_at_mut((end - start) * d0);
                let (by, y_rest) = std::mem::take(&mut y).split_at_mut((end - start) * k);
                (x, y) = (x_rest, y_rest);
                block((start, ws, loss, bx, by))?;
            }
            let n = net.n_params();
            block_sums::add_in_place(workspaces, 1, 0..n);
            Ok(())
        };
        let team = team(&mut self.team, par, self.max_jobs);
        if n_blocks == 1 {
            // One block: its products share their tiles through the team.
            with_current(team, || jobs.into_iter().try_for_each(run))?;
        } else {
            team.run(par, jobs, run)?;
        }
        self.summed = group;
        self.batch_blocks = n_blocks;
        self.spread = par.threads > 1
            && (n_blocks > 1 || rows.saturating_mul(widest_product(net)) >= TILED_MIN_MACS);
        let data_loss: f64 = self.losses[..n_blocks].iter().sum();
        Ok(BatchLoss {
            loss: data_loss / s.f64(),
            weight_sum: s,
            weight: weights.iter().map(|w| w.f64()).sum(),
        })
    }

    /// The optimizer step after [`BatchStep::loss_and_gradient`]: the blocks'
    /// gradients added up and `params` and `slots` stepped with the sum, in
    /// the fixed chunks of [`crate::update`], on `par`'s threads. Returns the
    /// penalty's sums over the weights.
    pub fn update(
        &mut self,
        settings: StepSettings<'_, T>,
        params: &mut [T],
        slots: &mut [T],
        par: Par,
    ) -> Result<WeightSums> {
        let team = team(&mut self.team, par, self.max_jobs);
        sum_and_step(
            &mut self.plan,
            settings,
            params,
            slots,
            (&self.blocks[..self.batch_blocks], self.summed),
            &mut self.total,
            self.spread,
            (team, par),
        )
    }

    /// The batch's gradient after [`BatchStep::loss_and_gradient`], the
    /// blocks' shares added up pairwise (for callers that step
    /// themselves).
    pub fn gradient(&mut self) -> &[T] {
        let n = self.blocks[0].grad.len();
        block_sums::add_in_place(&mut self.blocks[..self.batch_blocks], self.summed, 0..n);
        self.summed = self.batch_blocks;
        &self.blocks[0].grad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::features::Features;
    use crate::loss::Loss;

    fn net(sizes: Vec<usize>) -> Network {
        let hidden = vec![Activation::Relu; sizes.len() - 2];
        Network::new(sizes, hidden, Loss::SoftmaxLogLoss).unwrap()
    }

    #[test]
    fn default_sized_batches_are_cut_and_wide_ones_are_not() {
        // (100,) on 100 features at batch 200: 4.2 M multiply-adds, 4 blocks.
        assert_eq!(blocks_for(&net(vec![100, 100, 5]), 200), 4);
        assert_eq!(blocks_for(&net(vec![13, 100, 3]), 133), 2);
        // The GEMM shares mnist-sized products itself.
        assert_eq!(blocks_for(&net(vec![784, 256, 128, 10]), 128), 1);
        // Too little work to share.
        assert_eq!(blocks_for(&net(vec![4, 8, 3]), 120), 1);
        for rows in 1..300 {
            let b = blocks_for(&net(vec![100, 100, 5]), rows);
            assert!(
                b == 1 || rows / b >= MIN_BLOCK_ROWS,
                "{rows} rows, {b} blocks"
            );
            assert!(b.is_power_of_two());
        }
    }

    /// A (100,) batch of 200 rows with uneven weights and dropout.
    fn default_batch() -> (Network, Vec<f64>, BatchStep<f64>) {
        let net = net(vec![100, 100, 5]);
        let mut params = vec![0.0; net.n_params()];
        net.init_params(7, &mut params).unwrap();
        let mut step = BatchStep::<f64>::new(&net, 200, &[0.2]).unwrap();
        for (i, v) in step.batch.input.iter_mut().enumerate() {
            *v = ((i * 7919) % 1000) as f64 / 500.0 - 1.0;
        }
        for r in 0..200 {
            step.batch.targets[r * 5 + r % 5] = 1.0;
            step.batch.weights[r] = 0.5 + (r % 3) as f64;
        }
        (net, params, step)
    }

    fn dropout(rates: &[f64]) -> Option<Dropout<'_>> {
        Some(Dropout {
            rates,
            seed: 3,
            step: 11,
            first_row: 0,
        })
    }

    #[test]
    fn blocked_gradients_are_the_same_bytes_on_any_number_of_threads() {
        let (net, params, mut step) = default_batch();
        let mut first: Option<(u64, Vec<u64>)> = None;
        for threads in [1, 2, 3, 4, 8] {
            let par = Par { threads };
            let loss = crate::parallel::run_with_threads(threads, || {
                step.loss_and_gradient(&net, &params, None, 200, dropout(&[0.2]), par)
            })
            .unwrap()
            .unwrap()
            .loss;
            let bits = (
                loss.to_bits(),
                step.gradient().iter().map(|g| g.to_bits()).collect(),
            );
            match &first {
                None => first = Some(bits),
                Some(expected) => assert!(bits == *expected, "{threads} threads"),
            }
        }
    }

    #[test]
    fn the_blocks_gradients_are_added_pairwise_on_any_number_of_threads() {
        // Each block's gradient on its own, then ((g0 + g1) + (g2 + g3)).
        let (net, params, mut step) = default_batch();
        let rates = [0.2];
        let s = step
            .loss_and_gradient(&net, &params, None, 200, dropout(&rates), Par::SERIAL)
            .unwrap()
            .weight_sum;
        let blocks: Vec<Vec<f64>> = (0..4)
            .map(|b| {
                let (start, end) = block_rows(b, 4, 200);
                let mut ws = Workspace::<f64>::new(&net, end - start, &rates).unwrap();
                let all = step.batch.rows(200);
                let rows = Rows {
                    x: &all.x[start * 100..end * 100],
                    y: &all.y[start * 5..end * 5],
                    weights: &all.weights[start..end],
                    rows: end - start,
                };
                let d = dropout(&rates).unwrap();
                d.from_row(start)
                    .draw_masks(&mut ws, rows.rows, Par::SERIAL)
                    .unwrap();
                net.forward(&params, &mut ws, rows.x, rows.rows, true, Par::SERIAL)
                    .unwrap();
                net.backprop(&params, &mut ws, rows, s, None, true, Par::SERIAL)
                    .unwrap();
                ws.grad
            })
            .collect();
        let pairwise: Vec<u64> = (0..blocks[0].len())
            .map(|i| ((blocks[0][i] + blocks[1][i]) + (blocks[2][i] + blocks[3][i])).to_bits())
            .collect();
        let in_order: Vec<u64> = (0..blocks[0].len())
            .map(|i| (((blocks[0][i] + blocks[1][i]) + blocks[2][i]) + blocks[3][i]).to_bits())
            .collect();
        assert_ne!(pairwise, in_order, "the data should tell the orders apart");
        for threads in [1, 2, 4] {
            let par = Par { threads };
            crate::parallel::run_with_threads(threads, || {
                step.loss_and_gradient(&net, &params, None, 200, dropout(&rates), par)
            })
            .unwrap()
            .unwrap();
            let got: Vec<u64> = step.gradient().iter().map(|g| g.to_bits()).collect();
            assert_eq!(got, pairwise, "{threads} threads");
        }
    }

    #[test]
    fn blocked_gradients_equal_the_whole_batch_gradient_up_to_rounding() {
        let (net, params, mut step) = default_batch();
        let rates = [0.2];
        let batch_loss = step
            .loss_and_gradient(&net, &params, None, 200, dropout(&rates), Par::SERIAL)
            .unwrap();
        let (loss, s) = (batch_loss.loss, batch_loss.weight_sum);
        let mut whole = Workspace::<f64>::new(&net, 200, &rates).unwrap();
        let batch = step.batch.rows(200);
        dropout(&rates)
            .unwrap()
            .draw_masks(&mut whole, 200, Par::SERIAL)
            .unwrap();
        net.forward(&params, &mut whole, batch.x, 200, true, Par::SERIAL)
            .unwrap();
        let (data_loss, _) = net
            .backprop(&params, &mut whole, batch, s, None, true, Par::SERIAL)
            .unwrap();
        assert!((loss - data_loss / s).abs() <= 1e-14 * loss.abs());
        let scale = whole.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for (i, (a, b)) in step.gradient().iter().zip(&whole.grad).enumerate() {
            assert!((a - b).abs() <= 1e-13 * scale, "element {i}: {a} vs {b}");
        }
    }

    /// Five steps of the (100,) net gathered from 1000 rows, with dropout,
    /// both penalties and Adam: the parameters, losses and penalty sums.
    fn five_steps(threads: usize) -> (Vec<u64>, Vec<u64>) {
        let (params, results, _) = steps_of(vec![100, 100, 5], 200, 5, threads);
        (params, results)
    }

    /// `count` steps of batches of `batch` rows of `sizes` (the last size
    /// 5 outputs) on `threads` threads: the parameters' bits, each step's
    /// loss and penalty sums' bits, and the rounds its team ran.
    fn steps_of(
        sizes: Vec<usize>,
        batch: usize,
        count: usize,
        threads: usize,
    ) -> (Vec<u64>, Vec<u64>, u64) {
        let d0 = sizes[0];
        let net = net(sizes);
        let rows = batch * count;
        let x: Vec<f64> = (0..rows * d0)
            .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
            .collect();
        let mut y = vec![0.0; rows * 5];
        for r in 0..rows {
            y[r * 5 + (r * 3) % 5] = 1.0;
        }
        let w: Vec<f64> = (0..rows).map(|r| 0.5 + (r % 4) as f64 * 0.25).collect();
        let order: Vec<usize> = (0..rows).map(|i| (i * 389) % rows).collect();
        let features = Features::Dense(&x);
        let mut params = vec![0.0; net.n_params()];
        net.init_params(1, &mut params).unwrap();
        let mut slots = vec![0.0; 3 * net.n_params()];
        let adam = crate::optim::Optimizer::ADAM;
        let rates = vec![0.2; net.sizes().len() - 2];
        let mut step = BatchStep::<f64>::new(&net, batch, &rates).unwrap();
        let par = Par { threads };
        let mut results = vec![];
        crate::parallel::run_with_threads(threads, || {
            for (t, chunk) in order.chunks(batch).enumerate() {
                let source = Source {
                    x: &features,
                    y: &y,
                    weights: Some(&w),
                    order: chunk,
                    prefetch: prefetch_distance(&features, &y),
                };
                let d = Dropout {
                    rates: &rates,
                    seed: 5,
                    step: t as u64,
                    first_row: 0,
                };
                let loss = step
                    .loss_and_gradient(&net, &params, Some(source), batch, Some(d), par)
                    .unwrap();
                let settings = StepSettings {
                    optimizer: &adam,
                    lr: 1e-3,
                    t: t as u64 + 1,
                    penalty: crate::penalty::Penalty::new(1e-2, 1e-3, loss.weight_sum),
                };
                let sums = step.update(settings, &mut params, &mut slots, par).unwrap();
                results.extend([loss.loss, sums.squares, sums.absolutes].map(f64::to_bits));
            }
        })
        .unwrap();
        let rounds = step.team.as_ref().map_or(0, Team::rounds);
        (
            params.iter().map(|p| p.to_bits()).collect(),
            results,
            rounds,
        )
    }

    #[test]
    fn steps_are_the_same_bytes_on_any_number_of_threads() {
        let serial = five_steps(1);
        for threads in [2, 3, 4, 8] {
            assert!(five_steps(threads) == serial, "{threads} threads");
        }
    }

    #[test]
    fn sixteen_block_batches_are_the_same_bytes_on_any_number_of_threads() {
        // Batches of 512 rows: 16 blocks, summed in four levels.
        assert_eq!(blocks_for(&net(vec![100, 100, 5]), 512), 16);
        let serial = steps_of(vec![100, 100, 5], 512, 2, 1);
        for threads in [2, 3, 5, 8] {
            let (params, results, _) = steps_of(vec![100, 100, 5], 512, 2, threads);
            assert!(
                (params, results) == (serial.0.clone(), serial.1.clone()),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn the_gradient_then_the_step_is_the_step() {
        // `gradient` adds up what the jobs left; the step after it reads the
        // same sum.
        let (net, mut params, mut step) = default_batch();
        let mut slots = vec![0.0; 3 * params.len()];
        let sgd = crate::optim::Optimizer::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        let settings = StepSettings {
            optimizer: &sgd,
            lr: 0.1,
            t: 1,
            penalty: None,
        };
        let par = Par { threads: 2 };
        let mut stepped = params.clone();
        let mut slots_stepped = slots.clone();
        crate::parallel::run_with_threads(2, || {
            step.loss_and_gradient(&net, &params, None, 200, None, par)
                .unwrap();
            step.update(settings, &mut stepped, &mut slots_stepped, par)
                .unwrap();
            step.loss_and_gradient(&net, &params, None, 200, None, par)
                .unwrap();
            let grad = step.gradient().to_vec();
            // Twice: nothing is added again.
            assert_eq!(step.gradient(), &grad[..]);
            step.update(settings, &mut params, &mut slots, par).unwrap();
            for (p, g) in params.iter().zip(&grad) {
                assert!(p.is_finite() && g.is_finite());
            }
        })
        .unwrap();
        assert!(params
            .iter()
            .zip(&stepped)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn a_one_block_batch_on_its_team_is_the_same_bytes_on_any_number_of_threads() {
        // One block of 128 rows whose two wide products are cut into tiles,
        // and whose row passes (gather, dropout, bias and ReLU) are long
        // enough to share: on several threads all of them go to the team.
        let sizes = vec![256, 256, 128, 5];
        assert_eq!(blocks_for(&net(sizes.clone()), 128), 1);
        const { assert!(128 * 256 * 128 >= TILED_MIN_MACS) };
        let (params, results, _) = steps_of(sizes.clone(), 128, 3, 1);
        for threads in [2, 3, 4] {
            let (p, r, rounds) = steps_of(sizes.clone(), 128, 3, threads);
            assert!(p == params && r == results, "{threads} threads");
            // Each step has its optimizer round, and on the team more rounds
            // than that of tiles and row passes (two tiled products forward,
            // three back, the gather, bias and ReLU).
            assert!(rounds > 2 * 3, "{threads} threads: {rounds} rounds");
        }
    }

    #[test]
    fn the_chunked_step_moves_every_parameter_as_one_whole_step_does() {
        let (net, params, mut step) = default_batch();
        let n = net.n_params();
        assert!(n > 2 * crate::update::UPDATE_CHUNK);
        let sgd = crate::optim::Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
        };
        step.loss_and_gradient(&net, &params, None, 200, None, Par::SERIAL)
            .unwrap();
        let grad = step.gradient().to_vec();
        let penalty = crate::penalty::Penalty::new(0.1, 0.01, 200.0);
        let (mut whole, mut whole_slots) = (params.clone(), vec![0.0; 3 * n]);
        let expected = sgd
            .update(
                &mut whole,
                &grad,
                &mut whole_slots[..],
                0.1,
                1,
                &net.weight_ranges(),
                penalty,
                Par::SERIAL,
            )
            .unwrap();
        let (mut chunked, mut slots) = (params.clone(), vec![0.0; 3 * n]);
        let settings = StepSettings {
            optimizer: &sgd,
            lr: 0.1,
            t: 1,
            penalty,
        };
        let sums = step
            .update(settings, &mut chunked, &mut slots, Par::SERIAL)
            .unwrap();
        assert!(chunked == whole && slots == whole_slots);
        assert!((sums.squares - expected.squares).abs() <= 1e-12 * expected.squares);
        assert!((sums.absolutes - expected.absolutes).abs() <= 1e-12 * expected.absolutes);
    }

    #[test]
    fn a_narrow_networks_batch_has_the_general_pass_bits() {
        // Iris-sized: the block takes `narrow_block`'s kernels.
        let net = net(vec![4, 16, 3]);
        assert!(crate::small_matmul::isas().is_empty() || narrow_block::suits(&net, 16, false));
        let rows = 40;
        let x: Vec<f32> = (0..rows * 4)
            .map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5)
            .collect();
        let mut y = vec![0.0f32; rows * 3];
        for r in 0..rows {
            y[r * 3 + r % 3] = 1.0;
        }
        let w: Vec<f32> = (0..rows).map(|r| 0.5 + (r % 4) as f32 * 0.5).collect();
        let order: Vec<usize> = (0..16).map(|i| (i * 7) % rows).collect();
        let features = Features::Dense(&x);
        let mut params = vec![0.0f32; net.n_params()];
        net.init_params(4, &mut params).unwrap();
        let mut step = BatchStep::<f32>::new(&net, 16, &[]).unwrap();
        let source = Source {
            x: &features,
            y: &y,
            weights: Some(&w),
            order: &order,
            prefetch: 0,
        };
        let loss = step
            .loss_and_gradient(&net, &params, Some(source), 16, None, Par::SERIAL)
            .unwrap();
        let mut general = Workspace::<f32>::new(&net, 16, &[]).unwrap();
        let batch = step.batch.rows(16);
        net.forward(&params, &mut general, batch.x, 16, false, Par::SERIAL)
            .unwrap();
        let (data_loss, _) = net
            .backprop(
                &params,
                &mut general,
                batch,
                loss.weight_sum,
                None,
                false,
                Par::SERIAL,
            )
            .unwrap();
        assert_eq!(
            loss.loss.to_bits(),
            (data_loss / loss.weight_sum.f64()).to_bits()
        );
        let bits = |g: &[f32]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(step.gradient()), bits(&general.grad));
    }

    #[test]
    fn blocks_cover_the_rows_once_in_order() {
        for (rows, blocks) in [(200, 6), (133, 2), (7, 1), (65, 2)] {
            let mut next = 0;
            for b in 0..blocks {
                let (start, end) = block_rows(b, blocks, rows);
                assert_eq!(start, next);
                assert!(end - start >= rows / blocks);
                next = end;
            }
            assert_eq!(next, rows);
        }
    }
}
