//! Thread pools and the row-parallel helper.
//!
//! Each thread count gets one rayon pool, built on first use and reused, so a
//! call costs no thread start-up. Pools are rebuilt after a `fork` (the child
//! inherits the cache but not the threads). Work is split into fixed chunks, and
//! no helper here reduces across chunks, so results never depend on the count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::error::{FnnError, Result};

/// Rows below which element-wise passes stay on the calling thread: splitting
/// smaller work costs more in wake-ups than it gives.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

struct PoolCache {
    pid: u32,
    pools: HashMap<usize, Arc<rayon::ThreadPool>>,
}

static POOLS: Mutex<Option<PoolCache>> = Mutex::new(None);

/// The shared pool of `threads` workers (`threads >= 2`).
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let mut guard = POOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    let cache = guard.get_or_insert_with(|| PoolCache {
        pid,
        pools: HashMap::new(),
    });
    if cache.pid != pid {
        // A forked child: the parent's worker threads do not exist here. Leak
        // the stale pools rather than drop them (dropping would try to join
        // threads that are gone).
        for (_, p) in cache.pools.drain() {
            std::mem::forget(p);
        }
        cache.pid = pid;
    }
    if let Some(p) = cache.pools.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("fnn-{i}"))
        // fnn's workers only ever run training work: see `FlushSubnormals`.
        .start_handler(|_| crate::simd::FlushSubnormals::forever())
        .build()
        .map_err(|e| FnnError::Config(format!("cannot start {threads} threads: {e}")))?;
    let p = Arc::new(p);
    cache.pools.insert(threads, Arc::clone(&p));
    Ok(p)
}

/// Runs `f` with `threads` workers available to rayon (inline for 1 thread).
pub fn run_with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    if threads <= 1 {
        Ok(f())
    } else {
        Ok(pool(threads)?.install(f))
    }
}

/// How much parallelism a pass may use.
#[derive(Clone, Copy, Debug)]
pub struct Par {
    /// Worker threads (1 = serial).
    pub threads: usize,
}

impl Par {
    /// Serial execution.
    pub const SERIAL: Par = Par { threads: 1 };

    /// Applies `f(first_row, rows_chunk)` to `data` split in whole rows of
    /// `width`, in parallel when the pass is large enough.
    pub fn for_rows<T: Send>(
        self,
        data: &mut [T],
        width: usize,
        f: impl Fn(usize, &mut [T]) + Send + Sync,
    ) {
        if width == 0 || data.is_empty() {
            return;
        }
        let rows = data.len() / width;
        if self.threads <= 1 || data.len() < PARALLEL_MIN_ELEMENTS || rows < 2 {
            f(0, data);
            return;
        }
        let rows_per_chunk = rows.div_ceil(self.threads * 4).max(1);
        data.par_chunks_mut(rows_per_chunk * width)
            .enumerate()
            .for_each(|(c, chunk)| f(c * rows_per_chunk, chunk));
    }
}
