//! Where a woken pool worker runs: on another CPU than the thread that woke it.
//!
//! A team starts a helper by queueing a task on fnn's pool, which wakes a
//! sleeping worker to take it. On the virtual machine measured, Linux often
//! placed that worker on the waking thread's own CPU, where it waited behind
//! the caller, which goes on working, until the scheduler moved one of them;
//! meanwhile the team had one thread, and the helper, having run only while
//! the caller was off the CPU and so seen no round, often left again. Fits
//! that start after the pool has slept (the first of a session, one after
//! loading data, each repetition of a benchmark) lost their second thread
//! that way (BENCHMARKS.md, "Measurements behind the code's constants").
//!
//! So while a team wakes helpers, it keeps its pool's other workers off the
//! CPU it runs on ([`keep_off_this_cpu`]). The kernel picks a woken thread's
//! CPU as it wakes it, so the workers get their CPU sets back as soon as the
//! wake-ups are sent, when the returned guard drops. Only where threads run
//! changes, never what they compute. Nothing is pinned: a set loses one CPU
//! for the length of the wake-ups, and never its last. Off Linux it does
//! nothing.

#[cfg(all(test, target_os = "linux"))]
pub(crate) use linux::this_threads_cpus;
#[cfg(target_os = "linux")]
pub(crate) use linux::{keep_off_this_cpu, register_worker, unregister_worker};

#[cfg(not(target_os = "linux"))]
mod elsewhere {
    /// Records the calling thread as a worker of pool `pool` (nothing off Linux).
    pub(crate) fn register_worker(_pool: usize) {}

    /// Forgets the calling thread as a worker (nothing off Linux).
    pub(crate) fn unregister_worker() {}

    /// Keeps no worker off any CPU off Linux.
    pub(crate) fn keep_off_this_cpu(_pool: usize) -> Option<()> {
        None
    }
}
#[cfg(not(target_os = "linux"))]
pub(crate) use elsewhere::{keep_off_this_cpu, register_worker, unregister_worker};

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::{Mutex, MutexGuard, TryLockError};

    /// The live workers of this process: each one's thread id and pool (the
    /// pool's thread count, which names one pool of `crate::parallel`'s
    /// cache). A forked child starts over: the parent's thread ids name
    /// other threads, or none, there.
    struct Registry {
        pid: u32,
        workers: Vec<(libc::pid_t, usize)>,
    }

    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

    /// Tries for the registry at most this many times, yielding between
    /// tries, before a worker gives up registering or leaving: a child
    /// forked while another thread held the lock would otherwise wait
    /// forever (there every worker's start and exit spends these tries, and
    /// its teams wake helpers wherever the kernel puts them). A worker that
    /// gives up registering is only never kept off a CPU; one that gives up
    /// leaving keeps its id listed, which a later narrowing may then apply to
    /// the thread the kernel gives that id, for the microseconds of a wake-up.
    const REGISTER_TRIES: usize = 10_000;

    /// This process's registry, locked: at once, or after up to `tries`
    /// tries; `None` if it stays locked.
    fn registry(tries: usize) -> Option<MutexGuard<'static, Option<Registry>>> {
        let mut guard = None;
        for _ in 0..tries {
            match REGISTRY.try_lock() {
                Ok(g) => guard = Some(g),
                Err(TryLockError::Poisoned(p)) => guard = Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => std::thread::yield_now(),
            }
            if guard.is_some() {
                break;
            }
        }
        let mut guard = guard?;
        let pid = std::process::id();
        if guard.as_ref().is_none_or(|r| r.pid != pid) {
            *guard = Some(Registry {
                pid,
                workers: Vec::new(),
            });
        }
        Some(guard)
    }

    /// The calling thread's id (the system call, which every glibc has).
    fn this_thread() -> libc::pid_t {
        // SAFETY: `gettid` takes no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        tid as libc::pid_t
    }

    /// Thread `tid`'s CPU set (0: the calling thread), if the kernel gives
    /// it (the thread may have exited).
    fn cpus_of(tid: libc::pid_t) -> Option<libc::cpu_set_t> {
        // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set, and the
        // call writes at most `size_of::<cpu_set_t>()` bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(tid, size, &mut set) == 0).then_some(set)
        }
    }

    /// Sets thread `tid`'s CPUs; whether the kernel did. A refusal (a
    /// sandbox, a thread gone) leaves them as they were, which costs only
    /// speed.
    fn set_cpus(tid: libc::pid_t, set: &libc::cpu_set_t) -> bool {
        // SAFETY: `set` is a whole `cpu_set_t` of the size passed.
        unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) == 0 }
    }

    /// `set` without `cpu`, unless `cpu` is not in it (nothing to keep off)
    /// or is its only CPU (a thread must keep somewhere to run).
    fn without(set: &libc::cpu_set_t, cpu: usize) -> Option<libc::cpu_set_t> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        let mut narrowed = *set;
        // SAFETY: the functions are `unsafe` only by declaration; `cpu` is
        // inside the set's bits (checked above).
        unsafe {
            if !libc::CPU_ISSET(cpu, set) {
                return None;
            }
            libc::CPU_CLR(cpu, &mut narrowed);
            (libc::CPU_COUNT(&narrowed) > 0).then_some(narrowed)
        }
    }

    /// Records the calling thread as a worker of pool `pool` (as each
    /// worker starts).
    pub(crate) fn register_worker(pool: usize) {
        if let Some(mut guard) = registry(REGISTER_TRIES) {
            if let Some(r) = guard.as_mut() {
                r.workers.push((this_thread(), pool));
            }
        }
    }

    /// Forgets the calling thread (as a worker exits), so that its id, which
    /// the kernel may give to another thread, is never narrowed.
    pub(crate) fn unregister_worker() {
        let me = this_thread();
        if let Some(mut guard) = registry(REGISTER_TRIES) {
            if let Some(r) = guard.as_mut() {
                r.workers.retain(|&(tid, _)| tid != me);
            }
        }
    }

    /// Workers kept off a CPU. Dropping it gives each the set it had, read
    /// under the registry's lock, which it holds until then: no other team
    /// narrows meanwhile, so no narrowed set is ever read as a worker's own.
    pub(crate) struct Narrowed {
        workers: Vec<(libc::pid_t, libc::cpu_set_t)>,
        _registry: MutexGuard<'static, Option<Registry>>,
    }

    impl Drop for Narrowed {
        fn drop(&mut self) {
            for (tid, cpus) in &self.workers {
                // Nothing more to do if refused: the thread has gone.
                let _ = set_cpus(*tid, cpus);
            }
        }
    }

    /// Keeps every other worker of pool `pool` off the CPU the calling thread
    /// runs on, until the returned value drops. `None` if no set was
    /// narrowed: none registered, none could lose that CPU, or another team
    /// is waking its helpers this moment (this one's then wake where the
    /// kernel puts them).
    pub(crate) fn keep_off_this_cpu(pool: usize) -> Option<Narrowed> {
        // SAFETY: `sched_getcpu` takes no arguments.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).ok()?;
        let me = this_thread();
        let guard = registry(1)?;
        let mut workers = Vec::new();
        for &(tid, p) in &guard.as_ref()?.workers {
            if p != pool || tid == me {
                continue;
            }
            let Some(own) = cpus_of(tid) else {
                continue;
            };
            // Only a set that changed is given back.
            if let Some(narrowed) = without(&own, cpu) {
                if set_cpus(tid, &narrowed) {
                    workers.push((tid, own));
                }
            }
        }
        (!workers.is_empty()).then_some(Narrowed {
            workers,
            _registry: guard,
        })
    }

    /// The CPUs the calling thread may run on now.
    #[cfg(test)]
    pub(crate) fn this_threads_cpus() -> Vec<usize> {
        cpus_of(0).map_or_else(Vec::new, |set| tests::members(&set))
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
                // SAFETY: `c` is inside the set's bits (asserted).
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            set
        }

        pub(super) fn members(set: &libc::cpu_set_t) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: every `c` is inside the set's bits.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
                .collect()
        }

        fn cpus(tid: libc::pid_t) -> Vec<usize> {
            members(&cpus_of(tid).unwrap())
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
        fn other_workers_of_the_pool_are_kept_off_one_cpu_until_it_drops() {
            // Threads registered under pool keys no real pool has (a pool's
            // key is its thread count), parked until the test ends: two of
            // the pool asked about, one of another, and one that has left.
            const POOL: usize = usize::MAX - 7;
            const OTHER: usize = usize::MAX - 8;
            let (ready, registered) = mpsc::channel();
            let (finish, finished) = mpsc::channel::<()>();
            let finished = std::sync::Arc::new(Mutex::new(finished));
            std::thread::spawn(|| {
                register_worker(POOL);
                unregister_worker();
            })
            .join()
            .unwrap();
            let threads: Vec<_> = [POOL, POOL, OTHER]
                .into_iter()
                .map(|pool| {
                    let ready = ready.clone();
                    let finished = std::sync::Arc::clone(&finished);
                    std::thread::spawn(move || {
                        register_worker(pool);
                        ready.send((pool, this_thread())).unwrap();
                        let _ = finished.lock().unwrap().recv();
                        unregister_worker();
                    })
                })
                .collect();
            let tids: Vec<(usize, libc::pid_t)> =
                (0..3).map(|_| registered.recv().unwrap()).collect();
            {
                let guard = registry(REGISTER_TRIES).unwrap();
                let listed = |pool| {
                    guard
                        .as_ref()
                        .unwrap()
                        .workers
                        .iter()
                        .filter(|w| w.1 == pool)
                        .count()
                };
                assert_eq!(
                    (listed(POOL), listed(OTHER)),
                    (2, 1),
                    "the one that left is gone"
                );
            }
            let before: Vec<Vec<usize>> = tids.iter().map(|&(_, t)| cpus(t)).collect();
            // Another test's team may hold the registry for a moment.
            let mut narrowed = None;
            for _ in 0..REGISTER_TRIES {
                narrowed = keep_off_this_cpu(POOL);
                if narrowed.is_some() || before.iter().any(|b| b.len() <= 1) {
                    break;
                }
                std::thread::yield_now();
            }
            let during: Vec<Vec<usize>> = tids.iter().map(|&(_, t)| cpus(t)).collect();
            // Held until now: another caller meanwhile finds the registry busy.
            assert!(narrowed.is_none() || keep_off_this_cpu(OTHER).is_none());
            drop(narrowed);
            // Each of the pool's two lost the same one CPU of its set; the
            // other pool's kept its set.
            let lost: Vec<Vec<usize>> = before
                .iter()
                .zip(&during)
                .map(|(b, d)| b.iter().copied().filter(|c| !d.contains(c)).collect())
                .collect();
            if before.iter().all(|b| b.len() > 1) {
                let of_pool: Vec<&Vec<usize>> = tids
                    .iter()
                    .zip(&lost)
                    .filter(|((pool, _), _)| *pool == POOL)
                    .map(|(_, l)| l)
                    .collect();
                assert_eq!(of_pool.len(), 2);
                assert_eq!(of_pool[0].len(), 1, "{before:?} → {during:?}");
                assert_eq!(of_pool[1], of_pool[0]);
                let other = tids.iter().position(|&(pool, _)| pool == OTHER).unwrap();
                assert!(lost[other].is_empty(), "{before:?} → {during:?}");
                assert!(during
                    .iter()
                    .zip(&before)
                    .all(|(d, b)| d.iter().all(|c| b.contains(c))));
            } else {
                // A CPU set of one CPU: nothing to keep off.
                assert_eq!(during, before);
            }
            for (&(_, t), was) in tids.iter().zip(&before) {
                assert_eq!(&cpus(t), was, "thread {t} given its set back");
            }
            drop(finish);
            for t in threads {
                t.join().unwrap();
            }
        }
    }
}
