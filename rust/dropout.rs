//! Dropout masks (spec section 2's dropout stream), drawn into a workspace
//! before its forward pass.
//!
//! A mask element is a function of the run's seed, the optimizer step, the
//! hidden layer and its index in the batch alone, so a block of a batch draws
//! its own rows' share of the batch's masks, on any thread, and the forward
//! pass only multiplies by what is drawn.

use crate::error::{FnnError, Result};
use crate::float::Float;
use crate::parallel::Par;
use crate::rng;
use crate::workspace::Workspace;

/// Dropout draws above which a mask is drawn on all threads.
const PARALLEL_MIN_DRAWS: usize = 1 << 12;

/// 2^53: [`rng::uniform`] draws are multiples of its inverse.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// Dropout for one pass: the rates per hidden layer and where in the random
/// stream this pass's masks come from.
#[derive(Clone, Copy, Debug)]
pub struct Dropout<'a> {
    /// One rate per hidden layer.
    pub rates: &'a [f64],
    /// The run's seed.
    pub seed: u64,
    /// The optimizer step this batch belongs to.
    pub step: u64,
    /// The batch row the pass's first row is.
    pub first_row: usize,
}

impl Dropout<'_> {
    /// The same masks for a pass whose first row is row `start` of this one.
    pub fn from_row(self, start: usize) -> Self {
        Dropout {
            first_row: self.first_row + start,
            ..self
        }
    }

    /// Draws the masks of `rows` rows into `ws`: for each hidden layer with
    /// dropout buffers, 0 or 1/(1−p) per element. `Err` for a rate outside
    /// [0, 1), or a positive rate on a layer the workspace has no buffers for.
    pub fn draw_masks<T: Float>(&self, ws: &mut Workspace<T>, rows: usize, par: Par) -> Result<()> {
        if self.rates.iter().any(|p| !(0.0..1.0).contains(p)) {
            return Err(FnnError::Config(format!(
                "dropout rates must be in [0, 1), got {:?}",
                self.rates
            )));
        }
        for (l, mask) in ws.masks.iter_mut().enumerate() {
            let p = self.rates.get(l).copied().unwrap_or(0.0);
            let width = ws.sizes[l + 1];
            if mask.len() < rows * width {
                if p > 0.0 {
                    return Err(FnnError::Shape(format!(
                        "the workspace has no dropout buffers for hidden layer {l}"
                    )));
                }
                continue;
            }
            let key = rng::key(self.seed, rng::DROPOUT, self.step, l as u64);
            let keep = T::of(1.0 / (1.0 - p));
            // `uniform(key, i) >= p` without the float conversion: the draw
            // is its top 53 bits times 2^-53, exactly.
            let threshold = (p * TWO_POW_53).ceil() as u64;
            // Only a few thousand draws are worth sharing (BENCHMARKS.md,
            // "Measurements behind the code's constants").
            let first_row = self.first_row;
            par.for_rows_from(
                PARALLEL_MIN_DRAWS,
                &mut mask[..rows * width],
                width,
                |row, block| {
                    let first = (first_row + row) * width;
                    for (i, m) in block.iter_mut().enumerate() {
                        *m = if rng::bits(key, (first + i) as u64) >> 11 >= threshold {
                            keep
                        } else {
                            T::zero()
                        };
                    }
                },
            );
        }
        Ok(())
    }
}
