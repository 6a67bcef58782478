//! Where a woken pool worker runs: on another CPU than the thread that woke it.
//!
//! A team starts a helper by queueing a task on fnn's pool, which wakes a
//! sleeping worker to take it. On a virtual machine Linux often wakes that
//! worker onto the waking thread's own CPU (to the guest, an idle vCPU looks
//! preempted, so it is passed over), and there it waits behind the caller,
//! which goes on working, until the scheduler's next tick moves one of them:
//! about 4 ms in which the team has one thread. Having run only while the
//! caller was off the CPU, and so seen no round, the helper may then leave,
//! and the next one waits again. Every fit that starts after the pool has
//! slept (the first of a session, one after loading data, each repetition of
//! a benchmark) paid that (see BENCHMARKS.md, "Measurements behind the
//! code's constants").
//!
//! So while a team wakes helpers it keeps its pool's other workers off the
//! CPU it runs on ([`keep_off_this_cpu`]). The kernel picks a woken thread's
//! CPU as it wakes it, so the workers get their CPU sets back as soon as the
//! wake-ups are sent, when the returned [`Narrowed`] drops. Only where
//! threads run changes, never what they compute. Nothing is pinned: a set
//! loses one CPU for a few microseconds, and never its last. Off Linux it
//! does nothing.

#[cfg(all(test, target_os = "linux"))]
pub(crate) use linux::this_threads_cpus;
#[cfg(target_os = "linux")]
pub(crate) use linux::{keep_off_this_cpu, register_worker};

#[cfg(not(target_os = "linux"))]
mod elsewhere {
    /// Records the calling thread as a worker of pool `pool` (nothing off Linux).
    pub(crate) fn register_worker(_pool: usize) {}

    /// Nothing to give back off Linux.
    pub(crate) struct Narrowed;

    /// Keeps no worker off any CPU off Linux.
    pub(crate) fn keep_off_this_cpu(_pool: usize) -> Option<Narrowed> {
        None
    }
}
#[cfg(not(target_os = "linux"))]
pub(crate) use elsewhere::{keep_off_this_cpu, register_worker};

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::{Mutex, MutexGuard};

    /// A registered pool worker: its thread, the CPUs it may run on, and its
    /// pool (the pool's thread count, which names one pool of
    /// `crate::parallel`'s cache).
    struct Worker {
        tid: libc::pid_t,
        cpus: libc::cpu_set_t,
        pool: usize,
    }

    /// The workers of this process. A forked child starts over: the parent's
    /// thread ids name other threads, or none, there.
    struct Registry {
        pid: u32,
        workers: Vec<Worker>,
    }

    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

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

    /// Thread `tid`'s CPU set (0: the calling thread), if the kernel gives it.
    fn cpus_of(tid: libc::pid_t) -> Option<libc::cpu_set_t> {
        // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set, and the
        // call writes at most `size_of::<cpu_set_t>()` bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(tid, size, &mut set) == 0).then_some(set)
        }
    }

    /// Sets thread `tid`'s CPUs; a refusal (a sandbox, a thread gone) leaves
    /// them as they were, which costs only speed.
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

    /// Records the calling thread as a worker of pool `pool`, with the CPU
    /// set it has now (called as each worker starts).
    pub(crate) fn register_worker(pool: usize) {
        let Some(cpus) = cpus_of(0) else {
            return;
        };
        // SAFETY: `gettid` has no preconditions.
        let tid = unsafe { libc::gettid() };
        if let Some(r) = registry().as_mut() {
            r.workers.push(Worker { tid, cpus, pool });
        }
    }

    /// Workers kept off a CPU: dropping it gives them their CPU sets back.
    pub(crate) struct Narrowed {
        workers: Vec<(libc::pid_t, libc::cpu_set_t)>,
        /// The CPU they were kept off.
        #[cfg_attr(not(test), allow(dead_code))]
        cpu: usize,
    }

    impl Drop for Narrowed {
        fn drop(&mut self) {
            for (tid, cpus) in &self.workers {
                set_cpus(*tid, cpus);
            }
        }
    }

    /// Keeps every other worker of pool `pool` off the CPU the calling thread
    /// runs on, until the returned value drops; `None` if no set was
    /// narrowed (none registered, or none could lose that CPU).
    pub(crate) fn keep_off_this_cpu(pool: usize) -> Option<Narrowed> {
        // SAFETY: neither call has preconditions.
        let (cpu, me) = unsafe { (libc::sched_getcpu(), libc::gettid()) };
        let cpu = usize::try_from(cpu).ok()?;
        let guard = registry();
        let mut narrowed = Narrowed {
            workers: Vec::new(),
            cpu,
        };
        for w in guard.as_ref()?.workers.iter() {
            if w.pool == pool && w.tid != me {
                if let Some(set) = without(&w.cpus, cpu) {
                    set_cpus(w.tid, &set);
                    narrowed.workers.push((w.tid, w.cpus));
                }
            }
        }
        (!narrowed.workers.is_empty()).then_some(narrowed)
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
                // SAFETY: `c` is below `CPU_SETSIZE` (asserted).
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            set
        }

        pub(super) fn members(set: &libc::cpu_set_t) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: every `c` is below `CPU_SETSIZE`.
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
        fn other_workers_of_the_pool_are_kept_off_the_callers_cpu_until_it_drops() {
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
            let before: Vec<Vec<usize>> = tids.iter().map(|&(_, t)| cpus(t)).collect();
            match keep_off_this_cpu(POOL) {
                Some(narrowed) => {
                    let cpu = narrowed.cpu;
                    for (&(pool, t), was) in tids.iter().zip(&before) {
                        let expected: Vec<usize> = was
                            .iter()
                            .copied()
                            .filter(|&c| pool != POOL || c != cpu)
                            .collect();
                        assert_eq!(cpus(t), expected, "thread {t} of pool {pool}, CPU {cpu}");
                    }
                    drop(narrowed);
                }
                // Only on a machine (or a CPU set) of one CPU.
                None => assert!(before.iter().all(|b| b.len() <= 1), "{before:?}"),
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
