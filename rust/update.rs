//! A batch's optimizer step on all threads: the blocks' gradients summed and
//! the update applied in fixed chunks of the parameters.
//!
//! The parameters are cut into chunks of [`UPDATE_CHUNK`] by their count
//! alone. Each chunk sums the blocks' gradients in block order, then takes
//! its optimizer step with that sum while both are in cache; the penalty's
//! sums come back per chunk and are added in chunk order. A chunk runs on
//! whichever thread is free, and no element's arithmetic depends on which,
//! so one thread and sixty-four give the same bytes; and a network of ten
//! thousand parameters is shared among threads where the step as one pass
//! would be too short to split.

use std::ops::Range;

use crate::cache::evict;
use crate::error::{check_len, Result};
use crate::float::Float;
use crate::network::Network;
use crate::optim::{Optimizer, State};
use crate::parallel::Par;
use crate::penalty::{Penalty, WeightSums};
use crate::team::Team;
use crate::workspace::Workspace;

/// Parameters per chunk: a chunk's gradients, parameters and optimizer state
/// (five buffers of 16 KiB in f64) stay in L1/L2 while it is summed and
/// stepped, and a (100,) network's ten thousand parameters make five chunks.
pub const UPDATE_CHUNK: usize = 2048;

/// The fixed chunks of a network's parameters, each with the weight runs
/// (relative to its start) that the penalty and the decay touch.
#[derive(Clone, Debug)]
pub struct UpdatePlan {
    chunks: Vec<Range<usize>>,
    weights: Vec<Vec<Range<usize>>>,
    /// Each chunk's penalty sums of the last step.
    sums: Vec<WeightSums>,
}

impl UpdatePlan {
    /// How many chunks the parameters make.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The chunks of `net`'s parameters.
    pub fn new(net: &Network) -> Self {
        let n = net.n_params();
        let chunks: Vec<Range<usize>> = (0..n.div_ceil(UPDATE_CHUNK))
            .map(|c| c * UPDATE_CHUNK..((c + 1) * UPDATE_CHUNK).min(n))
            .collect();
        let weight_ranges = net.weight_ranges();
        let weights = chunks
            .iter()
            .map(|chunk| {
                weight_ranges
                    .iter()
                    .map(|w| w.start.max(chunk.start)..w.end.min(chunk.end))
                    .filter(|r| r.start < r.end)
                    .map(|r| r.start - chunk.start..r.end - chunk.start)
                    .collect()
            })
            .collect();
        UpdatePlan {
            sums: vec![WeightSums::default(); chunks.len()],
            chunks,
            weights,
        }
    }
}

/// One optimizer step's settings: what [`Optimizer::update`] takes besides
/// the buffers.
#[derive(Clone, Copy, Debug)]
pub struct StepSettings<'a, T> {
    /// The update rule.
    pub optimizer: &'a Optimizer,
    /// The learning rate.
    pub lr: f64,
    /// The 1-based step number.
    pub t: u64,
    /// The penalty whose gradient joins the data term's.
    pub penalty: Option<Penalty<T>>,
}

/// Adds the gradients of `others` into `first`'s, then steps `params` and
/// `slots` (three slots back to back) with the sum, chunk by chunk as `plan`
/// cuts them, on `team`'s threads (as many as `par` has). `spread`: the
/// batch's products ran on several threads, so other cores hold copies of
/// the parameters. Returns the penalty's sums over the weights.
#[allow(clippy::too_many_arguments)]
pub fn sum_and_step<T: Float>(
    plan: &mut UpdatePlan,
    settings: StepSettings<'_, T>,
    params: &mut [T],
    slots: &mut [T],
    first: &mut Workspace<T>,
    others: &[Workspace<T>],
    spread: bool,
    (team, par): (&mut Team, Par),
) -> Result<WeightSums> {
    let n = params.len();
    let [s0, s1, s2] = slots.slots(n)?;
    check_len("params", n, plan.chunks.last().map_or(0, |c| c.end))?;
    check_len("grad", first.grad.len(), n)?;
    let UpdatePlan {
        chunks,
        weights,
        sums,
    } = plan;
    // Where other cores have read the parameters (in their blocks' products,
    // or in their tiles of one block's), a chunk's core drops those copies
    // before rewriting them.
    let job = |c: usize, mut chunk: Chunk<'_, T>| -> Result<()> {
        if spread {
            evict(chunk.params);
        }
        add_block_gradients(chunk.grad, others, chunks[c].start);
        *chunk.sums = settings.optimizer.update(
            chunk.params,
            chunk.grad,
            &mut chunk.slots,
            settings.lr,
            settings.t,
            &weights[c],
            settings.penalty,
            Par::SERIAL,
        )?;
        Ok(())
    };
    let grad = &mut first.grad[..n];
    let c = UPDATE_CHUNK;
    let jobs = params
        .chunks_mut(c)
        .zip(s0.chunks_mut(c))
        .zip(s1.chunks_mut(c))
        .zip(s2.chunks_mut(c))
        .zip(grad.chunks_mut(c))
        .zip(sums.iter_mut())
        .map(Chunk::from)
        .enumerate();
    team.run(par, jobs, |(c, chunk)| job(c, chunk))?;
    // In chunk order, so the sums are the same on any number of threads.
    Ok(sums
        .iter()
        .fold(WeightSums::default(), |total, &s| total + s))
}

/// Adds, block after block, the gradients of `others` at parameters
/// `start..start + grad.len()` into `grad`: the one order every sum of a
/// batch's block gradients follows, so it is the same on any thread.
pub(crate) fn add_block_gradients<T: Float>(grad: &mut [T], others: &[Workspace<T>], start: usize) {
    let end = start + grad.len();
    for ws in others {
        grad.iter_mut()
            .zip(&ws.grad[start..end])
            .for_each(|(g, &o)| *g += o);
    }
}

/// One chunk's share of every buffer the step writes.
struct Chunk<'a, T> {
    params: &'a mut [T],
    slots: [&'a mut [T]; 3],
    grad: &'a mut [T],
    sums: &'a mut WeightSums,
}

/// The chunks of the buffers as zipped: params, three slots, gradient, sums.
type Zipped<'a, T> = (
    (
        (((&'a mut [T], &'a mut [T]), &'a mut [T]), &'a mut [T]),
        &'a mut [T],
    ),
    &'a mut WeightSums,
);

impl<'a, T> From<Zipped<'a, T>> for Chunk<'a, T> {
    fn from((((((params, a), b), c), grad), sums): Zipped<'a, T>) -> Self {
        Chunk {
            params,
            slots: [a, b, c],
            grad,
            sums,
        }
    }
}
