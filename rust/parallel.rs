//! Thread pools and the row-parallel helper.
//!
//! Each thread count gets one rayon pool, built on first use and reused, so a
//! call costs no thread start-up. Pools are rebuilt after a `fork` (the child
//! inherits the cache but not the threads). Work is split into chunks, and a
//! pass that sums across them ([`Par::divide`]) cuts and combines them in a
//! way fixed by the length alone, so results never depend on the count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::error::{FnnError, Result};

/// Rows below which element-wise passes stay on the calling thread: splitting
/// smaller work costs more in wake-ups than it gives.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Chunks per thread of a parallel row pass ([`Par::for_rows`]): a few, so
/// that a thread slowed by another process does not hold up the pass.
pub const CHUNKS_PER_THREAD: usize = 4;

/// Elements per block of a [`Par::divide`]d pass. Sums are taken per block
/// and combined along a tree fixed by the length, so this constant, never the
/// thread count, decides the rounding. 16 K elements (64 KiB of f32 per
/// buffer) take far longer than handing a block to another thread
/// (see BENCHMARKS.md, "Measurements behind the code's constants").
pub const BLOCK_ELEMENTS: usize = 1 << 14;

/// Work (multiply-adds) per batch below which training stays on one thread:
/// digits-sized batches gain nothing from a second thread, mnist-sized ones
/// do (see BENCHMARKS.md, "Measurements behind the code's constants").
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
/// `available_parallelism` reads the cgroup quota files on every call, which
/// costs as much as a small prediction (see BENCHMARKS.md, "Measurements behind the code's constants").
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
pub(crate) fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
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
        .start_handler(move |_| {
            // fnn's workers only ever run training work: see `FlushSubnormals`.
            crate::simd::FlushSubnormals::forever();
            crate::placement::register_worker(threads);
        })
        .exit_handler(|_| crate::placement::unregister_worker())
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

/// Runs `work` on a worker of the pool of `threads` workers (`threads >= 2`)
/// while the calling thread runs `wait`; returns `work`'s result (`Err` if it
/// panicked) and `wait`'s. `wait` must return once `work` has, or soon after
/// (the call returns only when both have). No thread is started: the pool's
/// are reused.
pub fn beside<R: Send, W>(
    threads: usize,
    work: impl FnOnce() -> R + Send,
    wait: impl FnOnce() -> W,
) -> Result<(std::thread::Result<R>, W)> {
    let pool = pool(threads)?;
    let mut outcome = None;
    let waited = pool.in_place_scope(|scope| {
        let slot = &mut outcome;
        scope.spawn(move |_| {
            *slot = Some(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
        });
        wait()
    });
    let outcome = outcome.unwrap_or_else(|| Err(Box::new("the pool dropped the work")));
    Ok((outcome, waited))
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
        self.for_rows_from(PARALLEL_MIN_ELEMENTS, data, width, f);
    }

    /// [`Par::for_rows`] for a pass that costs more per element: in parallel
    /// from `min_elements` on.
    pub fn for_rows_from<T: Send>(
        self,
        min_elements: usize,
        data: &mut [T],
        width: usize,
        f: impl Fn(usize, &mut [T]) + Send + Sync,
    ) {
        if width == 0 || data.is_empty() {
            return;
        }
        let rows = data.len() / width;
        if self.threads <= 1 || data.len() < min_elements || rows < 2 {
            f(0, data);
            return;
        }
        let rows_per_chunk = rows.div_ceil(self.threads * CHUNKS_PER_THREAD).max(1);
        let chunks = data.chunks_mut(rows_per_chunk * width).enumerate();
        // During a one-block batch's step, on its team.
        if crate::team::share(self, chunks, |(c, chunk)| f(c * rows_per_chunk, chunk)) {
            return;
        }
        data.par_chunks_mut(rows_per_chunk * width)
            .enumerate()
            .for_each(|(c, chunk)| f(c * rows_per_chunk, chunk));
    }
}

/// A pass over slices that can be cut at any element into two independent
/// passes, so that [`Par::divide`] can share it among threads.
pub trait Divisible: Sized + Send {
    /// Elements the pass covers.
    fn elements(&self) -> usize;
    /// The pass over elements `..mid` and the pass over `mid..`.
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl Par {
    /// Runs `run` on `work` cut into blocks of [`BLOCK_ELEMENTS`], in
    /// parallel when the pass is large enough, and folds the blocks' results
    /// with `combine` (left, right).
    ///
    /// The cuts and the order of the folds depend on `work.elements()` only: a
    /// serial run cuts and folds exactly as a parallel one does, so sums come
    /// out bit for bit the same on any number of threads.
    pub fn divide<W: Divisible, R: Send>(
        self,
        work: W,
        run: &(impl Fn(W) -> R + Sync),
        combine: &(impl Fn(R, R) -> R + Sync),
    ) -> R {
        let parallel = self.threads > 1 && work.elements() >= PARALLEL_MIN_ELEMENTS;
        divide_blocks(work, parallel, run, combine)
    }
}

fn divide_blocks<W: Divisible, R: Send>(
    work: W,
    parallel: bool,
    run: &(impl Fn(W) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    let blocks = work.elements().div_ceil(BLOCK_ELEMENTS);
    if blocks <= 1 {
        return run(work);
    }
    let (left, right) = work.split_at(blocks / 2 * BLOCK_ELEMENTS);
    let halves = |w| divide_blocks(w, parallel, run, combine);
    let (l, r) = if parallel {
        rayon::join(|| halves(left), || halves(right))
    } else {
        (halves(left), halves(right))
    };
    combine(l, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum over a slice, cut like any other divided pass.
    struct Summed<'a>(&'a [f32]);

    impl Divisible for Summed<'_> {
        fn elements(&self) -> usize {
            self.0.len()
        }
        fn split_at(self, mid: usize) -> (Self, Self) {
            let (a, b) = self.0.split_at(mid);
            (Summed(a), Summed(b))
        }
    }

    fn sum_on(threads: usize, data: &[f32]) -> (f32, Vec<usize>) {
        run_with_threads(threads, || {
            let par = Par { threads };
            par.divide(
                Summed(data),
                &|s: Summed<'_>| (s.0.iter().sum::<f32>(), vec![s.0.len()]),
                &|(a, mut la), (b, lb)| {
                    la.extend(lb);
                    (a + b, la)
                },
            )
        })
        .unwrap()
    }

    #[test]
    fn divide_cuts_by_length_alone_and_folds_in_order() {
        // Values whose f32 sum depends on the order they are added in.
        let data: Vec<f32> = (0..5 * BLOCK_ELEMENTS + 17)
            .map(|i| 1.0 + (i % 97) as f32 * 1e-7 * (i as f32))
            .collect();
        let (serial, blocks) = sum_on(1, &data);
        assert_eq!(blocks.iter().sum::<usize>(), data.len());
        assert!(blocks.iter().all(|&b| b <= BLOCK_ELEMENTS));
        for threads in [2, 3] {
            let (sum, cut) = sum_on(threads, &data);
            assert_eq!(sum.to_bits(), serial.to_bits(), "{threads} threads");
            assert_eq!(cut, blocks);
        }
    }

    #[test]
    fn beside_runs_the_work_on_a_pool_worker_and_waits_here() {
        let caller = std::thread::current().id();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (worker, waited) = beside(
            2,
            move || {
                let on = (std::thread::current().id(), rayon::current_num_threads());
                done_tx.send(()).unwrap();
                on
            },
            || {
                done_rx.recv().unwrap();
                std::thread::current().id()
            },
        )
        .unwrap();
        let (worker_thread, pool_threads) = worker.unwrap();
        assert_ne!(worker_thread, caller);
        assert_eq!((pool_threads, waited), (2, caller));
    }

    #[test]
    fn beside_reports_a_panic_of_the_work() {
        let (worker, waited) = beside(2, || -> u8 { panic!("boom") }, || 7).unwrap();
        assert!(worker.is_err());
        assert_eq!(waited, 7);
    }

    #[test]
    fn divide_runs_short_work_in_one_piece() {
        let data = [1.0f32, 2.0, 3.0];
        assert_eq!(sum_on(2, &data), (6.0, vec![3]));
        assert_eq!(sum_on(2, &[]), (0.0, vec![0]));
    }
}
