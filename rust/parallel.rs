//! Thread pools and the row-parallel helper.
//!
//! Each thread count gets one rayon pool, built on first use and reused, so a
//! call costs no thread start-up. Pools are rebuilt after a `fork` (the child
//! inherits the cache but not the threads). Work is split into fixed chunks, and
//! no helper here reduces across chunks, so results never depend on the count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::error::{FnnError, Result};

/// Rows below which element-wise passes stay on the calling thread: splitting
/// smaller work costs more in wake-ups than it gives.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Work (multiply-adds) per batch below which training stays on one thread:
/// on 2 cores, digits-sized batches (~0.3 M) gain nothing from a second
/// thread, while mnist-sized ones (~30 M) run twice as fast.
pub const PARALLEL_MIN_BATCH_WORK: usize = 4_000_000;

/// The process-wide cap set through threadpoolctl (0: none).
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Caps the threads fnn uses when the caller does not choose (0 lifts the cap).
pub fn set_thread_limit(limit: usize) {
    THREAD_LIMIT.store(limit, Ordering::Relaxed);
}

/// The threads fnn uses when the caller does not choose: the threadpoolctl
/// cap, else `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS` (what joblib sets in
/// its workers), else the core count.
pub fn default_threads() -> usize {
    let limit = THREAD_LIMIT.load(Ordering::Relaxed);
    if limit > 0 {
        return limit;
    }
    env_threads().unwrap_or_else(cores)
}

/// `read()`, called once per process and again in a forked child, which may
/// have been started under other settings.
fn once_per_process<T: Copy>(snapshot: &Mutex<Option<(u32, T)>>, read: impl FnOnce() -> T) -> T {
    let mut guard = snapshot
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    match *guard {
        Some((read_by, value)) if read_by == pid => value,
        _ => {
            let value = read();
            *guard = Some((pid, value));
            value
        }
    }
}

/// The cores this process may use, read once per process:
/// `available_parallelism` reads the cgroup quota files on every call
/// (~8 µs, half a one-row prediction).
pub fn cores() -> usize {
    static SNAPSHOT: Mutex<Option<(u32, usize)>> = Mutex::new(None);
    once_per_process(&SNAPSHOT, || {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    })
}

/// `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS`, read on the first call in each
/// process (a forked child reads them again).
///
/// Read once, as OpenMP reads its variable at start-up: a process that sets
/// them later for the children it spawns keeps its own count. dask's nanny
/// does that, setting `OMP_NUM_THREADS=1` in the process that starts a
/// `LocalCluster`, which would otherwise put the user's own fits on one thread.
pub fn env_threads() -> Option<usize> {
    static SNAPSHOT: Mutex<Option<(u32, Option<usize>)>> = Mutex::new(None);
    once_per_process(&SNAPSHOT, || {
        let from_env = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
        };
        from_env("RAYON_NUM_THREADS").or_else(|| from_env("OMP_NUM_THREADS"))
    })
}

/// `requested` threads, at least 1 and at most 4 per core: more only add
/// wake-ups (thousands of threads take minutes over one batch), and results
/// do not depend on the count.
fn capped(requested: usize) -> usize {
    requested.clamp(1, 4 * cores())
}

/// The threads worth using for batches of `work` multiply-adds.
pub fn threads_for_work(requested: usize, work: usize) -> usize {
    if work < PARALLEL_MIN_BATCH_WORK {
        1
    } else {
        capped(requested)
    }
}

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

/// Runs `f` with `threads` workers available to rayon (inline for 1 thread,
/// so that concurrent single-threaded calls do not queue for one worker).
///
/// Parallel work inside `f` must ask for at most `threads` threads: with
/// more, the GEMM splits its work across rayon's *current* pool, which
/// outside an fnn pool is rayon's global one, beyond threadpoolctl's limits
/// and, in a `fork`ed child, made of threads that no longer exist (the child
/// would wait for them forever). fnn's own pools are rebuilt in the child.
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
