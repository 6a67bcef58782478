//! The one order in which a batch's row blocks' gradients are added up
//! (spec, "Row blocks"): pairwise, in a fixed tree. With `B` blocks (a power
//! of two), blocks `2i` and `2i + 1` are added, then those sums two by two,
//! and so on: `((g₀ + g₁) + (g₂ + g₃)) + ((g₄ + g₅) + (g₆ + g₇))`.
//!
//! Where each addition runs never changes its operands, so any split of the
//! tree between threads gives the same bits. A step on `t` threads lets each
//! job of the blocks' round add up its own consecutive blocks (a subtree,
//! [`add_in_place`]) while they are in its core's cache, and the optimizer
//! chunks finish the tree over the jobs' sums ([`add_into`]) into a buffer of
//! the chunk's own: each core then reads the other cores' gradients once, as
//! one sum per job, and writes none of their lines. In block order every
//! chunk read each other block's gradient and rewrote the first block's.

use std::ops::Range;

use crate::float::Float;
use crate::workspace::Workspace;

/// Adds up the gradients of `blocks[0], blocks[stride], blocks[2·stride]…`
/// (a power of two of them) at `range`, pairwise, into the first one's.
pub(crate) fn add_in_place<T: Float>(
    blocks: &mut [Workspace<T>],
    stride: usize,
    range: Range<usize>,
) {
    let count = blocks.len().div_ceil(stride.max(1));
    debug_assert!(count.is_power_of_two(), "{count} sums");
    let mut step = 1;
    while step < count {
        for left in (0..count).step_by(2 * step) {
            let (low, high) = blocks.split_at_mut((left + step) * stride);
            let right = &high[0].grad[range.clone()];
            low[left * stride].grad[range.clone()]
                .iter_mut()
                .zip(right)
                .for_each(|(l, &r)| *l += r);
        }
        step *= 2;
    }
}

/// The most elements [`add_into`] takes with more than eight sums: an
/// optimizer chunk's.
pub(crate) const MOST: usize = crate::update::UPDATE_CHUNK;

/// `out` = the pairwise sum, at parameters `start..start + out.len()`, of
/// the gradients of `sums[0], sums[stride], sums[2·stride]…` (a power of
/// two of them), read only. Up to eight sums take one pass; more go through
/// a buffer on the stack per level, so `out` then holds at most [`MOST`].
pub(crate) fn add_into<T: Float>(
    out: &mut [T],
    sums: &[Workspace<T>],
    stride: usize,
    start: usize,
) {
    let range = start..start + out.len();
    let count = sums.len().div_ceil(stride.max(1));
    debug_assert!(count.is_power_of_two());
    let g = |j: usize| &sums[j * stride].grad[range.clone()];
    match count {
        1 => out.copy_from_slice(g(0)),
        2 => {
            let (a, b) = (g(0), g(1));
            for (i, o) in out.iter_mut().enumerate() {
                *o = a[i] + b[i];
            }
        }
        4 => {
            let [a, b, c, d] = [g(0), g(1), g(2), g(3)];
            for (i, o) in out.iter_mut().enumerate() {
                *o = (a[i] + b[i]) + (c[i] + d[i]);
            }
        }
        8 => {
            let [a, b, c, d, e, f, h, k] = [g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7)];
            for (i, o) in out.iter_mut().enumerate() {
                *o = ((a[i] + b[i]) + (c[i] + d[i])) + ((e[i] + f[i]) + (h[i] + k[i]));
            }
        }
        _ => {
            assert!(out.len() <= MOST, "{} elements over {MOST}", out.len());
            let half = count / 2 * stride;
            add_into(out, &sums[..half], stride, start);
            let mut right = [T::zero(); MOST];
            let right = &mut right[..out.len()];
            add_into(right, &sums[half..], stride, start);
            out.iter_mut().zip(&*right).for_each(|(o, &r)| *o += r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::loss::Loss;
    use crate::network::Network;

    /// `count` workspaces whose gradients hold values whose sums depend on
    /// the order they are added in.
    fn blocks(count: usize) -> Vec<Workspace<f64>> {
        let net =
            Network::new(vec![3, 4, 2], vec![Activation::Relu], Loss::SoftmaxLogLoss).unwrap();
        (0..count)
            .map(|b| {
                let mut ws = Workspace::new(&net, 1, &[]).unwrap();
                for (i, g) in ws.grad.iter_mut().enumerate() {
                    *g = (1.0 + (i as f64) * 1e-3) * 10f64.powi((b as i32 * 7 + i as i32) % 17 - 8);
                }
                ws
            })
            .collect()
    }

    /// The tree by hand, element by element.
    fn by_hand(values: &[f64]) -> f64 {
        match values.len() {
            1 => values[0],
            n => by_hand(&values[..n / 2]) + by_hand(&values[n / 2..]),
        }
    }

    #[test]
    fn both_ways_give_the_tree_and_not_the_block_order() {
        for count in [1, 2, 4, 8, 16] {
            let original = blocks(count);
            let fresh = || blocks(count);
            let n = original[0].grad.len();
            let expected: Vec<u64> = (0..n)
                .map(|i| by_hand(&original.iter().map(|w| w.grad[i]).collect::<Vec<_>>()).to_bits())
                .collect();
            // In place, all at once.
            let mut all = fresh();
            add_in_place(&mut all, 1, 0..n);
            assert_eq!(
                all[0].grad.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                expected
            );
            // Subtrees in place (pairs), then the rest read-only, in two
            // pieces of the parameters.
            if count >= 2 {
                let mut split = fresh();
                for pair in split.chunks_mut(2) {
                    add_in_place(pair, 1, 0..n);
                }
                let mut out = vec![0.0; n];
                let (a, b) = out.split_at_mut(n / 2);
                add_into(a, &split, 2, 0);
                add_into(b, &split, 2, n / 2);
                assert_eq!(
                    out.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                    expected
                );
            }
            // Read-only from the blocks themselves.
            let mut out = vec![0.0; n];
            add_into(&mut out, &original, 1, 0);
            assert_eq!(
                out.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                expected
            );
            if count == 4 {
                // The values were picked so that block order differs.
                let in_order: Vec<u64> = (0..n)
                    .map(|i| original.iter().fold(0.0, |s, w| s + w.grad[i]).to_bits())
                    .collect();
                assert_ne!(in_order, expected);
            }
        }
    }
}
