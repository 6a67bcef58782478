//! A batch's optimizer step on all threads: the blocks' gradients summed and
//! the update applied in fixed chunks of the parameters.
//!
//! The parameters are cut into chunks of [`UPDATE_CHUNK`] by their count
//! alone. Each chunk finishes the blocks' pairwise sum for its parameters
//! ([`crate::block_sums`]), then takes its optimizer step with that sum
//! while both are in cache; the penalty's
//! sums come back per chunk and are added in chunk order. A chunk runs on
//! whichever thread is free, and no element's arithmetic depends on which,
//! so one thread and sixty-four give the same bytes; and a network of ten
//! thousand parameters is shared among threads where the step as one pass
//! would be too short to split.

use std::ops::Range;

use crate::block_sums;
use crate::cache::evict;
use crate::error::{check_len, FnnError, Result};
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

/// Steps `params` and `slots` (three slots back to back) with the batch's
/// gradient, chunk by chunk as `plan` cuts them, on `team`'s threads (as
/// many as `par` has). The gradient is the pairwise sum
/// ([`crate::block_sums`]) of the gradients of `sums[0], sums[stride]…`,
/// each already the sum of its `stride` blocks; each chunk finishes the tree
/// for its own parameters into its share of `total` (as long as `params`;
/// unused, and may be empty, when there is one sum). `spread`: the batch's
/// products ran on several threads, so other cores hold copies of the
/// parameters. Returns the penalty's sums over the weights.
#[allow(clippy::too_many_arguments)]
pub fn sum_and_step<T: Float>(
    plan: &mut UpdatePlan,
    settings: StepSettings<'_, T>,
    params: &mut [T],
    slots: &mut [T],
    (sums, stride): (&[Workspace<T>], usize),
    total: &mut [T],
    spread: bool,
    (team, par): (&mut Team, Par),
) -> Result<WeightSums> {
    let n = params.len();
    let [s0, s1, s2] = slots.slots(n)?;
    check_len("params", n, plan.chunks.last().map_or(0, |c| c.end))?;
    let Some(first) = sums.first() else {
        return Err(FnnError::Shape("a step needs a block's gradient".into()));
    };
    check_len("grad", first.grad.len(), n)?;
    let one = sums.len() <= stride;
    if !one {
        check_len("gradient buffer", total.len(), n)?;
    }
    let UpdatePlan {
        chunks,
        weights,
        sums: chunk_sums,
    } = plan;
    // Where other cores have read the parameters (in their blocks' products,
    // or in their tiles of one block's), a chunk's core drops those copies
    // before rewriting them.
    let job = |c: usize, mut chunk: Chunk<'_, T>| -> Result<()> {
        if spread {
            evict(chunk.params);
        }
        let range = chunks[c].clone();
        // The tree's last levels into this chunk's own buffer: the blocks'
        // sums are only read, and no core writes a line another holds.
        let grad: &[T] = if one {
            &first.grad[range]
        } else {
            block_sums::add_into(chunk.total, sums, stride, range.start);
            chunk.total
        };
        *chunk.sums = settings.optimizer.update(
            chunk.params,
            grad,
            &mut chunk.slots,
            settings.lr,
            settings.t,
            &weights[c],
            settings.penalty,
            Par::SERIAL,
        )?;
        Ok(())
    };
    let c = UPDATE_CHUNK;
    // An empty `total` (one sum) gives each chunk an empty share.
    let mut shares = total.chunks_mut(c);
    let totals = (0..chunks.len()).map(move |_| shares.next().unwrap_or(&mut []));
    let jobs = params
        .chunks_mut(c)
        .zip(s0.chunks_mut(c))
        .zip(s1.chunks_mut(c))
        .zip(s2.chunks_mut(c))
        .zip(totals)
        .zip(chunk_sums.iter_mut())
        .map(Chunk::from)
        .enumerate();
    team.run(par, jobs, |(c, chunk)| job(c, chunk))?;
    // In chunk order, so the sums are the same on any number of threads.
    Ok(chunk_sums
        .iter()
        .fold(WeightSums::default(), |total, &s| total + s))
}

/// One chunk's share of every buffer the step writes.
struct Chunk<'a, T> {
    params: &'a mut [T],
    slots: [&'a mut [T]; 3],
    total: &'a mut [T],
    sums: &'a mut WeightSums,
}

/// The chunks of the buffers as zipped: params, three slots, the gradient's
/// buffer, sums.
type Zipped<'a, T> = (
    (
        (((&'a mut [T], &'a mut [T]), &'a mut [T]), &'a mut [T]),
        &'a mut [T],
    ),
    &'a mut WeightSums,
);

impl<'a, T> From<Zipped<'a, T>> for Chunk<'a, T> {
    fn from((((((params, a), b), c), total), sums): Zipped<'a, T>) -> Self {
        Chunk {
            params,
            slots: [a, b, c],
            total,
            sums,
        }
    }
}
