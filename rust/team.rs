//! A team of pool threads that stay awake through a training call, so that
//! the parallel stretches of every step start without waking anyone: the
//! row blocks or, for a batch of one block, its gather, dropout masks,
//! product tiles and row passes (the team lent through [`with_current`]);
//! then the optimizer chunks.
//!
//! Rayon wakes a sleeping worker for each `join` or `broadcast`, which on a
//! virtual machine costs as much as a small block's work (see BENCHMARKS.md,
//! "Measurements behind the code's constants"). A [`Team`] instead keeps up
//! to `threads − 1` helper tasks spinning on one atomic word between its
//! rounds, as OpenMP runtimes spin between parallel regions; a helper that
//! sees no round for [`IDLE_LIMIT`] leaves, and the next round starts a new one.
//!
//! A fitted model's `Predictor` keeps a team as well ([`Team::on_pool`]):
//! its caller is Python's thread, outside the pool, and a stream of one-row
//! predictions finds the helper still spinning from the row before. A row
//! that comes after the helper has left runs on the caller alone (the
//! `Predictor` does not lend the team then), and the next row, if it comes
//! soon, starts a new helper. Such a helper also leaves after
//! [`ON_POOL_LIFETIME`], so that a pool worker that took it up while waiting
//! for work of its own (a `join` of another fit) gets back to that.
//!
//! While it waits, a helper also runs any rayon work queued in the pool
//! (the shuffle's parallel sort, a validation `predict`, another fit on the
//! same pool), so a spinning helper never holds back the pool's other
//! parallelism.
//!
//! A round is a list of jobs. Each job is claimed exactly once, by the
//! calling thread or by a helper, each preferring its own contiguous run of
//! the jobs (participant `i` of `t` takes jobs `i·n/t .. (i+1)·n/t` first), so
//! that a block or a chunk lands on the same core round after round and its
//! buffers stay in that core's cache. Nothing depends on who
//! runs a job, and the caller claims whatever nobody else has: a helper that
//! never arrives (its pool busy with another fit) only costs speed.

use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{FnnError, Result};
use crate::parallel::Par;
use crate::placement;

/// How long a helper spins without a round before it leaves the team.
pub const IDLE_LIMIT: Duration = Duration::from_micros(200);

/// The longest a helper of a team on a pool ([`Team::on_pool`]) stays, even
/// while rounds keep coming: the caller starts a new one for its next round.
pub const ON_POOL_LIFETIME: Duration = Duration::from_millis(10);

/// Bits of the round word that hold the job count; the rest is the round.
const JOB_BITS: u32 = 16;

/// The most jobs one round can have.
pub const MAX_JOBS: usize = (1 << JOB_BITS) - 1;

/// A round's job, as the helpers see it.
type Job<'a> = &'a (dyn Fn(usize) -> Result<()> + Sync);

/// What the calling thread and its helpers share.
struct Shared {
    /// `round << JOB_BITS | jobs`, published after `job`.
    round: AtomicU64,
    /// The round in which each job was last claimed.
    claims: Vec<AtomicU64>,
    /// Jobs of the current round finished.
    done: AtomicUsize,
    /// The current round's job; valid while the round has unfinished jobs.
    job: UnsafeCell<Option<Job<'static>>>,
    /// The first error of the current round.
    error: Mutex<Option<FnnError>>,
    /// Which helper indices are in the team now.
    present: Vec<AtomicBool>,
    /// Set when the team is dropped: helpers leave.
    closed: AtomicBool,
    /// How long a helper stays at most (`None`: while rounds come).
    lifetime: Option<Duration>,
}

// SAFETY: `job` is written only by the calling thread between rounds, while
// no job of a round is unfinished, and read only by a thread that has just
// claimed a job of the round it was written for (see `Shared::claim`); every
// other field is atomic or locked.
unsafe impl Sync for Shared {}

impl Shared {
    /// Claims and runs jobs of round `round` (of `jobs` jobs) as participant
    /// `me` of `threads`: its own jobs first, then any left.
    fn work(&self, me: usize, threads: usize, round: u64, jobs: usize) {
        // A run rather than every `threads`-th job: neighbouring blocks and
        // chunks on one core (see BENCHMARKS.md, "Measurements behind the
        // code's constants").
        let own = me * jobs / threads..(me + 1) * jobs / threads;
        for j in own.chain(0..jobs) {
            if !self.claim(j, round) {
                continue;
            }
            // SAFETY: this thread holds an unfinished job of `round`, so the
            // caller is still inside `Team::run` for `round` and `job` holds
            // its closure.
            let job = unsafe { *self.job.get() };
            let outcome = match job {
                Some(f) => catch_unwind(AssertUnwindSafe(|| f(j)))
                    .unwrap_or_else(|_| Err(FnnError::Internal("an fnn job panicked".into()))),
                None => Ok(()),
            };
            if let Err(e) = outcome {
                self.error
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .get_or_insert(e);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Whether this thread claimed job `j` of round `round`: it had not been
    /// claimed in this round (or a later one).
    fn claim(&self, j: usize, round: u64) -> bool {
        let slot = &self.claims[j];
        let seen = slot.load(Ordering::Acquire);
        seen < round
            && slot
                .compare_exchange(seen, round, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

/// The calling thread's team of pool helpers for one training call (or for a
/// fitted model's predictions, [`Team::on_pool`]).
pub struct Team {
    shared: Arc<Shared>,
    threads: usize,
    rounds: u64,
    /// Where helpers start when the caller is not a worker of the pool
    /// itself; `None`: the caller's own pool.
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Team {
    /// A team for `threads` threads (the caller and `threads − 1` helpers)
    /// and rounds of at most `max_jobs` jobs.
    pub fn new(threads: usize, max_jobs: usize) -> Self {
        Team::with_lifetime(threads, max_jobs, None)
    }

    fn with_lifetime(threads: usize, max_jobs: usize, lifetime: Option<Duration>) -> Self {
        let max_jobs = max_jobs.min(MAX_JOBS);
        Team {
            shared: Arc::new(Shared {
                round: AtomicU64::new(0),
                claims: (0..max_jobs).map(|_| AtomicU64::new(0)).collect(),
                done: AtomicUsize::new(0),
                job: UnsafeCell::new(None),
                error: Mutex::new(None),
                present: (0..threads).map(|_| AtomicBool::new(false)).collect(),
                closed: AtomicBool::new(false),
                lifetime,
            }),
            threads: threads.max(1),
            rounds: 0,
            pool: None,
        }
    }

    /// A team whose helpers are workers of `pool`, for a caller outside it
    /// (Python's thread, predicting): its rounds need no pool around the call.
    pub fn on_pool(threads: usize, max_jobs: usize, pool: Arc<rayon::ThreadPool>) -> Self {
        let mut team = Team::with_lifetime(threads, max_jobs, Some(ON_POOL_LIFETIME));
        team.pool = Some(pool);
        team
    }

    /// Whether this team's helpers come from `pool`.
    pub fn is_on(&self, pool: &Arc<rayon::ThreadPool>) -> bool {
        self.pool.as_ref().is_some_and(|own| Arc::ptr_eq(own, pool))
    }

    /// The threads the team was made for.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Rounds run on more than one thread so far.
    #[cfg(test)]
    pub(crate) fn rounds(&self) -> u64 {
        self.rounds
    }

    /// Runs `f` on each of `jobs` on the team's threads; the first error
    /// comes back. Serial when `par` is, with one job, more jobs than the
    /// team was made for, or outside a pool (unless the team has a pool of
    /// its own, [`Team::on_pool`]); the jobs are then taken one by
    /// one as they come, with nothing allocated. While this thread records
    /// a timeline (the `timeline` feature), every round runs on it alone,
    /// each job timed ([`crate::timeline`]).
    pub fn run<J: Send>(
        &mut self,
        par: Par,
        jobs: impl IntoIterator<Item = J, IntoIter: ExactSizeIterator>,
        f: impl Fn(J) -> Result<()> + Sync,
    ) -> Result<()> {
        #[cfg(feature = "timeline")]
        if crate::timeline::recording() {
            return crate::timeline::run_serially(jobs, f);
        }
        let mut jobs = jobs.into_iter();
        let n = jobs.len();
        if self.threads <= 1
            || par.threads <= 1
            || n <= 1
            || n > self.shared.claims.len()
            || (self.pool.is_none() && rayon::current_thread_index().is_none())
        {
            return jobs.try_for_each(f);
        }
        let slots: Vec<Mutex<Option<J>>> = jobs.map(|j| Mutex::new(Some(j))).collect();
        let each = |j: usize| -> Result<()> {
            let job = slots[j]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            job.map_or(Ok(()), &f)
        };
        let each: Job<'_> = &each;
        let shared = &*self.shared;
        self.rounds += 1;
        let round = self.rounds;
        shared.done.store(0, Ordering::Relaxed);
        // SAFETY: no job of any round is unfinished, so no helper reads `job`
        // now; the lifetime is erased only until this round ends below, after
        // which no helper can claim a job of it.
        unsafe {
            *shared.job.get() = Some(std::mem::transmute::<Job<'_>, Job<'static>>(each));
        }
        shared
            .round
            .store(round << JOB_BITS | n as u64, Ordering::Release);
        self.call_helpers();
        shared.work(0, self.threads, round, n);
        while shared.done.load(Ordering::Acquire) < n {
            std::hint::spin_loop();
        }
        // SAFETY: every job of the round is finished; no helper reads `job`.
        unsafe {
            *shared.job.get() = None;
        }
        match shared
            .error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Starts a helper task for each helper index not in the team, first
    /// keeping the pool's workers off this thread's CPU, so that the one
    /// woken for it runs beside this thread, not behind it (see
    /// [`placement`]). Every round comes here; only a round that wakes a
    /// helper does more than the one swap per helper.
    fn call_helpers(&self) {
        // Given back, once the wake-ups are sent, as this drops.
        let mut narrowed = None;
        for me in 1..self.threads {
            if self.shared.present[me].swap(true, Ordering::AcqRel) {
                continue;
            }
            if narrowed.is_none() {
                // A pool's size names it to `placement`. Here the caller is a
                // worker of the helpers' pool or the team has its own, so
                // asking starts no rayon global pool.
                let pool = self
                    .pool
                    .as_ref()
                    .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
                narrowed = Some(placement::keep_off_this_cpu(pool));
            }
            let shared = Arc::clone(&self.shared);
            let threads = self.threads;
            let helper = move || help(&shared, me, threads);
            match &self.pool {
                Some(pool) => pool.spawn(helper),
                None => rayon::spawn(helper),
            }
        }
    }
}

thread_local! {
    /// The team that [`with_current`] lent this thread, while it runs.
    static CURRENT: Cell<*mut Team> = const { Cell::new(std::ptr::null_mut()) };
}

/// Puts `ptr` back as this thread's current team when dropped (also on
/// unwinding).
struct Restore(*mut Team);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` with `team` as this thread's current team: work that shares
/// itself out on this thread while `f` runs ([`run_on_current`]), rayon
/// work stolen onto it included, then hands its jobs to the team's spinning
/// helpers instead of waking rayon's workers. One batch's forward and
/// backward run several such passes and products back to back.
pub fn with_current<R>(team: &mut Team, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(team as *mut Team));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` on each of `jobs` on this thread's current team (see
/// [`Team::run`]), or returns `None` without running anything when the
/// thread has none. A job that asks again, from inside the round, finds
/// none: the team is out on loan to the round for its length.
pub fn run_on_current<J: Send>(
    par: Par,
    jobs: impl IntoIterator<Item = J, IntoIter: ExactSizeIterator>,
    f: impl Fn(J) -> Result<()> + Sync,
) -> Option<Result<()>> {
    let team = CURRENT.with(|c| c.replace(std::ptr::null_mut()));
    if team.is_null() {
        return None;
    }
    let _restore = Restore(team);
    // SAFETY: `with_current` stored a pointer from a `&mut Team` that it
    // holds, unused, until this thread's call of `f` returns; that call is
    // still running (this code is inside it), and the pointer was taken out
    // of `CURRENT` above, so this is the only reference made from it until
    // `_restore` puts it back.
    let team = unsafe { &mut *team };
    Some(team.run(par, jobs, f))
}

/// Runs `f` on each of `jobs` on this thread's current team, if it has one;
/// returns whether it did. For jobs that cannot fail: one that panics is
/// caught by the team, and its panic goes on up from here, as from rayon.
pub fn share<J: Send>(
    par: Par,
    jobs: impl IntoIterator<Item = J, IntoIter: ExactSizeIterator>,
    f: impl Fn(J) + Sync,
) -> bool {
    match run_on_current(par, jobs, |j| {
        f(j);
        Ok(())
    }) {
        None => false,
        Some(Ok(())) => true,
        Some(Err(e)) => panic!("{e}"),
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

/// A helper's loop: joins each new round until the team closes or no round
/// comes for [`IDLE_LIMIT`].
fn help(shared: &Shared, me: usize, threads: usize) {
    let mut last = 0u64;
    let started = Instant::now();
    let mut idle_since = started;
    let mut polls = 0u32;
    loop {
        let word = shared.round.load(Ordering::Acquire);
        let (round, jobs) = (word >> JOB_BITS, (word & MAX_JOBS as u64) as usize);
        if round != last {
            last = round;
            shared.work(me, threads, round, jobs);
            idle_since = Instant::now();
            if shared
                .lifetime
                .is_some_and(|life| idle_since.duration_since(started) > life)
            {
                break;
            }
            continue;
        }
        if shared.closed.load(Ordering::Acquire) {
            break;
        }
        std::hint::spin_loop();
        polls = polls.wrapping_add(1);
        // Between rounds, other work may be queued in the pool (the
        // shuffle's sort, a validation `predict`): take it, or it would wait
        // for a worker this spin is holding.
        if polls & 63 == 0 {
            rayon::yield_now();
        }
        // The clock is read once per 256 polls: reading it often slows the
        // other core down.
        if polls & 255 == 0 && idle_since.elapsed() > IDLE_LIMIT {
            break;
        }
    }
    shared.present[me].store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::run_with_threads;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_job_runs_once_per_round_and_errors_come_back() {
        for threads in [1, 2, 3, 4] {
            run_with_threads(threads, || {
                let mut team = Team::new(threads, 16);
                for round in 0..500usize {
                    let n = 1 + round % 16;
                    let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                    let jobs: Vec<usize> = (0..n).collect();
                    team.run(Par { threads }, jobs, |j| {
                        counts[j].fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    })
                    .unwrap();
                    assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                    if round % 50 == 0 {
                        // Idle past the limit: the helpers leave and come back.
                        std::thread::sleep(IDLE_LIMIT * 2);
                    }
                }
                let failed = team.run(Par { threads }, 0..8, |j: usize| {
                    if j == 5 {
                        Err(FnnError::Shape("job 5".into()))
                    } else {
                        Ok(())
                    }
                });
                assert!(matches!(failed, Err(FnnError::Shape(m)) if m == "job 5"));
            })
            .unwrap();
        }
    }

    #[test]
    fn a_job_that_panics_is_an_internal_error_and_the_team_goes_on() {
        for threads in [2, 3, 4] {
            run_with_threads(threads, || {
                let mut team = Team::new(threads, 16);
                let failed = team.run(Par { threads }, 0..8, |j: usize| {
                    assert!(j != 6, "job 6 fails");
                    Ok(())
                });
                assert!(
                    matches!(&failed, Err(FnnError::Internal(m)) if m.contains("panicked")),
                    "{failed:?}"
                );
                // The next round runs every job, on whichever threads.
                let counts: Vec<AtomicUsize> = (0..8).map(|_| AtomicUsize::new(0)).collect();
                team.run(Par { threads }, 0..8, |j: usize| {
                    counts[j].fetch_add(1, Ordering::Relaxed);
                    Ok(())
                })
                .unwrap();
                assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
            })
            .unwrap();
        }
    }

    #[test]
    fn a_lent_team_runs_each_job_once_and_only_on_its_threads_call_to_it() {
        run_with_threads(2, || {
            let par = Par { threads: 2 };
            let jobs = |n: usize| (0..n).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>();
            // No team lent: nothing runs.
            let counts = jobs(4);
            let none = run_on_current(par, 0..4, |j: usize| {
                counts[j].fetch_add(1, Ordering::Relaxed);
                Ok(())
            });
            assert!(none.is_none());
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 0));
            let mut team = Team::new(2, 8);
            with_current(&mut team, || {
                for _ in 0..200 {
                    let counts = jobs(8);
                    let nested = AtomicUsize::new(0);
                    run_on_current(par, 0..8, |j: usize| {
                        counts[j].fetch_add(1, Ordering::Relaxed);
                        // From inside a round (on either thread) no team is lent.
                        if run_on_current(par, 0..2, |_: usize| Ok(())).is_none() {
                            nested.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    })
                    .unwrap()
                    .unwrap();
                    assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                    assert_eq!(nested.load(Ordering::Relaxed), 8);
                }
                // A job's error comes back, and the team is lent again after.
                let failed = run_on_current(par, 0..4, |j: usize| {
                    if j == 3 {
                        Err(FnnError::Shape("job 3".into()))
                    } else {
                        Ok(())
                    }
                });
                assert!(matches!(failed, Some(Err(FnnError::Shape(m))) if m == "job 3"));
                assert!(run_on_current(par, 0..2, |_: usize| Ok(())).is_some());
            });
            // The loan ends with `with_current`.
            assert!(run_on_current(par, 0..2, |_: usize| Ok(())).is_none());
        })
        .unwrap();
    }

    #[test]
    fn a_team_on_a_pool_shares_rounds_with_its_workers_from_outside_it() {
        let pool = crate::parallel::pool(2).unwrap();
        let mut team = Team::on_pool(2, 8, Arc::clone(&pool));
        assert!(team.is_on(&pool) && !Team::new(2, 8).is_on(&pool));
        assert!(
            rayon::current_thread_index().is_none(),
            "the test thread is no worker"
        );
        // Rounds until a worker of `pool` has run a job (a loaded machine
        // may take a while to start the helper), each job once every round.
        let helped = AtomicUsize::new(0);
        let start = Instant::now();
        let mut rounds = 0;
        while helped.load(Ordering::Relaxed) == 0 && start.elapsed() < Duration::from_secs(20) {
            let counts: Vec<AtomicUsize> = (0..8).map(|_| AtomicUsize::new(0)).collect();
            team.run(Par { threads: 2 }, 0..8usize, |j| {
                counts[j].fetch_add(1, Ordering::Relaxed);
                if pool.current_thread_index().is_some() {
                    helped.fetch_add(1, Ordering::Relaxed);
                }
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_micros(2) {}
                Ok(())
            })
            .unwrap();
            rounds += 1;
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "round {rounds}"
            );
        }
        assert!(
            helped.load(Ordering::Relaxed) > 0,
            "no worker of the pool joined"
        );
        // Every round ran as a round of the team, not serially.
        assert_eq!(team.rounds(), rounds);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn waking_helpers_leaves_the_pools_workers_their_own_cpus() {
        // A pool of 6, which no other test makes, so that no other team
        // keeps its workers off a CPU meanwhile.
        run_with_threads(6, || {
            let sets = || rayon::broadcast(|_| placement::this_threads_cpus());
            let before = sets();
            assert!(before.iter().all(|s| !s.is_empty()));
            for _ in 0..3 {
                let mut team = Team::new(6, 8);
                for _ in 0..20 {
                    let counts: Vec<AtomicUsize> = (0..8).map(|_| AtomicUsize::new(0)).collect();
                    team.run(Par { threads: 6 }, 0..8usize, |j| {
                        counts[j].fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    })
                    .unwrap();
                    assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                    // Kept off the caller's CPU only while helpers are woken.
                    assert_eq!(sets(), before);
                }
            }
        })
        .unwrap();
    }

    #[test]
    fn the_caller_does_the_work_when_no_helper_can_come() {
        // Both workers of a 2-thread pool run a team's caller at once: each
        // one's helper waits for a worker that never frees up.
        run_with_threads(2, || {
            rayon::join(
                || {
                    let mut team = Team::new(2, 4);
                    for _ in 0..100 {
                        team.run(Par { threads: 2 }, vec![1, 2, 3, 4], |_| Ok(()))
                            .unwrap();
                    }
                },
                || {
                    let mut team = Team::new(2, 4);
                    for _ in 0..100 {
                        team.run(Par { threads: 2 }, vec![1, 2, 3, 4], |_| Ok(()))
                            .unwrap();
                    }
                },
            )
        })
        .unwrap();
    }
}
