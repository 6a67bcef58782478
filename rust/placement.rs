//! Where a woken pool worker runs: on another CPU than the thread that woke it.
//!
//! A team starts a helper by queueing a task on fnn's pool, which wakes a
//! sleeping worker to take it. On a virtual machine Linux often wakes that
//! worker onto the waking thread's own CPU (to the guest, an idle vCPU looks
//! preempted, so it is passed over), and there it waits behind the caller,
//! which goes on working, until the scheduler's next tick moves one of them:
//! about 4 ms in which the team has one thread. Having seen no round while it
//! waited, the helper may then leave, and the next one waits again. Every
//! fit that starts after the pool has slept (the first of a session, one
//! after data loading, each repetition of a benchmark) paid that (see
//! BENCHMARKS.md, "Measurements behind the code's constants").
//!
//! So before a team wakes helpers it narrows the CPU sets of its pool's
//! other workers to leave out the CPU it runs on ([`keep_off_this_cpu`]);
//! each worker widens its own back to what it was as soon as it starts a
//! helper task ([`widen_this_thread`]), and the team widens any still
//! narrowed when it is dropped ([`widen`]). Only where threads run changes,
//! never what they compute. Nothing is pinned: a set loses one CPU, for a
//! moment, and never its last. Off Linux all of it does nothing.

#[cfg(all(test, target_os = "linux"))]
pub(crate) use linux::this_threads_cpus;
#[cfg(target_os = "linux")]
pub(crate) use linux::{keep_off_this_cpu, register_worker, widen, widen_this_thread};

#[cfg(not(target_os = "linux"))]
mod elsewhere {
    /// Records the calling pool worker of pool `pool` (nothing off Linux).
    pub(crate) fn register_worker(_pool: usize) {}
    /// The CPU the other workers of `pool` were kept off (none off Linux).
    pub(crate) fn keep_off_this_cpu(_pool: usize) -> Option<usize> {
        None
    }
    /// Gives the calling worker back its own CPU set (nothing off Linux).
    pub(crate) fn widen_this_thread() {}
    /// Gives every narrowed worker of `pool` back its CPU set (nothing off Linux).
    pub(crate) fn widen(_pool: usize) {}
}
#[cfg(not(target_os = "linux"))]
pub(crate) use elsewhere::{keep_off_this_cpu, register_worker, widen, widen_this_thread};

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::Cell;
    use std::sync::{Mutex, MutexGuard};

    /// A registered pool worker: its thread, the CPUs it may run on when not
    /// narrowed, its pool (the pool's thread count, which names one pool of
    /// `crate::parallel`'s cache), and whether its set is narrowed now.
    struct Worker {
        tid: libc::pid_t,
        cpus: libc::cpu_set_t,
        pool: usize,
        narrowed: bool,
    }

    /// The workers of this process. A forked child starts over: the parent's
    /// thread ids name other threads, or none, there.
    struct Registry {
        pid: u32,
        workers: Vec<Worker>,
    }

    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

    thread_local! {
        /// The calling worker's own CPU set, recorded when it started.
        static OWN_CPUS: Cell<Option<libc::cpu_set_t>> = const { Cell::new(None) };
    }

    /// This process's workers (none yet after a fork).
    fn registry() -> MutexGuard<'static, Option<Registry>> {
        let mut guard = REGISTRY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let pid = std::process::id();
        if guard.as_ref().is_none_or(|r| r.pid != pid) {
            *guard = Some(Registry {
                pid,
                workers: Vec::new(),
            });
        }
        guard
    }

    /// The calling thread's CPU set, if the kernel gives it.
    fn own_cpus() -> Option<libc::cpu_set_t> {
        // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set, and the
        // call writes at most `size_of::<cpu_set_t>()` bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
        }
    }

    /// Sets thread `tid`'s CPUs (0: the calling thread); a refusal (a
    /// sandbox, a thread gone) leaves them as they were, which costs only
    /// speed.
    fn set_cpus(tid: libc::pid_t, set: &libc::cpu_set_t) {
        // SAFETY: `set` is a whole `cpu_set_t` of the size passed.
        unsafe {
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set);
        }
    }

    /// `set` without `cpu`, unless `cpu` is not in it (nothing to keep off)
    /// or is its only CPU (a thread must keep somewhere to run).
    pub(super) fn without(set: &libc::cpu_set_t, cpu: usize) -> Option<libc::cpu_set_t> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        let mut narrowed = *set;
        // SAFETY: `cpu` is below `CPU_SETSIZE`, so every bit these read or
        // clear lies inside the set.
        unsafe {
            if !libc::CPU_ISSET(cpu, set) {
                return None;
            }
            libc::CPU_CLR(cpu, &mut narrowed);
            (libc::CPU_COUNT(&narrowed) > 0).then_some(narrowed)
        }
    }

    /// Records the calling thread as a worker of pool `pool` (called as each
    /// worker starts) with the CPU set it has now.
    pub(crate) fn register_worker(pool: usize) {
        let Some(cpus) = own_cpus() else {
            return;
        };
        OWN_CPUS.with(|own| own.set(Some(cpus)));
        // SAFETY: `gettid` has no preconditions.
        let tid = unsafe { libc::gettid() };
        if let Some(r) = registry().as_mut() {
            r.workers.push(Worker {
                tid,
                cpus,
                pool,
                narrowed: false,
            });
        }
    }

    /// Narrows the CPU set of every other worker of pool `pool` to leave out
    /// the CPU the calling thread runs on, so that a worker woken now runs
    /// elsewhere. Returns that CPU if any set was narrowed.
    pub(crate) fn keep_off_this_cpu(pool: usize) -> Option<usize> {
        // SAFETY: neither call has preconditions.
        let (cpu, me) = unsafe { (libc::sched_getcpu(), libc::gettid()) };
        let cpu = usize::try_from(cpu).ok()?;
        let mut guard = registry();
        let mut narrowed_any = false;
        for w in guard.as_mut()?.workers.iter_mut() {
            if w.pool != pool || w.tid == me {
                continue;
            }
            if let Some(set) = without(&w.cpus, cpu) {
                set_cpus(w.tid, &set);
                w.narrowed = true;
                narrowed_any = true;
            }
        }
        narrowed_any.then_some(cpu)
    }

    /// Gives the calling worker back the CPU set it started with (a helper
    /// task's first act: it now runs where it should, and may move freely).
    pub(crate) fn widen_this_thread() {
        if let Some(cpus) = OWN_CPUS.with(Cell::get) {
            set_cpus(0, &cpus);
        }
    }

    /// The CPUs the calling thread may run on now.
    #[cfg(test)]
    pub(crate) fn this_threads_cpus() -> Vec<usize> {
        own_cpus().map_or_else(Vec::new, |set| {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: every `c` is below `CPU_SETSIZE`.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
                .collect()
        })
    }

    /// Gives every worker of pool `pool` still narrowed its CPU set back.
    pub(crate) fn widen(pool: usize) {
        let mut guard = registry();
        let Some(r) = guard.as_mut() else {
            return;
        };
        for w in r
            .workers
            .iter_mut()
            .filter(|w| w.pool == pool && w.narrowed)
        {
            set_cpus(w.tid, &w.cpus);
            w.narrowed = false;
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::mpsc;

        fn set_of(cpus: &[usize]) -> libc::cpu_set_t {
            // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for &c in cpus {
                assert!(c < libc::CPU_SETSIZE as usize);
                // SAFETY: `c` is below `CPU_SETSIZE` (asserted).
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            set
        }

        fn members(set: &libc::cpu_set_t) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: every `c` is below `CPU_SETSIZE`.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
                .collect()
        }

        fn cpus_of(tid: libc::pid_t) -> Vec<usize> {
            // SAFETY: as in `own_cpus`.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: as in `own_cpus`.
            assert_eq!(unsafe { libc::sched_getaffinity(tid, size, &mut set) }, 0);
            members(&set)
        }

        #[test]
        fn a_set_loses_the_cpu_only_when_it_has_it_and_another() {
            let set = set_of(&[0, 1, 5]);
            assert_eq!(members(&without(&set, 1).unwrap()), [0, 5]);
            assert_eq!(members(&without(&set, 5).unwrap()), [0, 1]);
            assert!(without(&set, 2).is_none(), "2 is not in the set");
            assert!(without(&set_of(&[3]), 3).is_none(), "its only CPU");
            assert!(without(&set, libc::CPU_SETSIZE as usize).is_none());
        }

        #[test]
        fn other_workers_are_kept_off_the_callers_cpu_until_widened() {
            // Threads registered under pool keys no real pool has (a pool's
            // key is its thread count), parked until the test ends: two of
            // the pool asked about, one of another.
            const POOL: usize = usize::MAX - 7;
            const OTHER: usize = usize::MAX - 8;
            let (ready, registered) = mpsc::channel();
            let (finish, finished) = mpsc::channel::<()>();
            let finished = std::sync::Arc::new(Mutex::new(finished));
            let threads: Vec<_> = [POOL, POOL, OTHER]
                .into_iter()
                .map(|pool| {
                    let ready = ready.clone();
                    let finished = std::sync::Arc::clone(&finished);
                    std::thread::spawn(move || {
                        register_worker(pool);
                        // SAFETY: `gettid` has no preconditions.
                        ready.send((pool, unsafe { libc::gettid() })).unwrap();
                        let _ = finished.lock().unwrap().recv();
                    })
                })
                .collect();
            let tids: Vec<(usize, libc::pid_t)> =
                (0..3).map(|_| registered.recv().unwrap()).collect();
            let before: Vec<Vec<usize>> = tids.iter().map(|&(_, t)| cpus_of(t)).collect();
            match keep_off_this_cpu(POOL) {
                Some(cpu) => {
                    for (&(pool, t), was) in tids.iter().zip(&before) {
                        let expected: Vec<usize> = was
                            .iter()
                            .copied()
                            .filter(|&c| pool != POOL || c != cpu)
                            .collect();
                        assert_eq!(cpus_of(t), expected, "thread {t} of pool {pool}, CPU {cpu}");
                    }
                }
                // Only on a machine (or a CPU set) of one CPU.
                None => assert!(before.iter().all(|b| b.len() <= 1), "{before:?}"),
            }
            widen(POOL);
            for (&(_, t), was) in tids.iter().zip(&before) {
                assert_eq!(&cpus_of(t), was, "thread {t} widened");
            }
            drop(finish);
            for t in threads {
                t.join().unwrap();
            }
        }

        #[test]
        fn a_worker_widens_its_own_set_back() {
            let start = cpus_of(0);
            std::thread::spawn(move || {
                register_worker(usize::MAX - 9);
                // SAFETY: `gettid` has no preconditions.
                let me = unsafe { libc::gettid() };
                let first = *start.first().unwrap();
                // Narrowed to one CPU of its set (as a team may leave it),
                // then widened by the worker itself.
                set_cpus(me, &set_of(&[first]));
                assert_eq!(cpus_of(me), [first]);
                widen_this_thread();
                assert_eq!(cpus_of(me), start);
            })
            .join()
            .unwrap();
        }
    }
}
