//! A training call's parallel structure, timed job by job on one core, and
//! the time a team of any size would take for it.
//!
//! This host has two cores; whether fnn keeps scaling on four or eight is a
//! question about the work's structure: how many jobs each round of a step
//! has (row blocks, optimizer chunks, product tiles, row passes), how long
//! each takes, and how much runs between the rounds on the caller alone.
//! With the `timeline` feature a training call can record exactly that
//! ([`record`]): each [`Team`](crate::team::Team) round then runs its jobs
//! one after another on the caller, timing each, while every job list is
//! still cut as it would be for the call's thread count. [`simulate`]
//! replays the record on `threads` participants that claim jobs as a team's
//! do (each its own contiguous run first, then whatever is left, in order).
//!
//! The replay leaves out what two cores cost each other: a round's hand-off
//! is a constant, and a job takes as long as it did alone, with the caches
//! it had. On two cores its prediction is therefore a floor, and the
//! benchmark (`benches/scaling.rs`) puts it beside the measured time. It
//! also counts as the caller's alone what a training call shares out through
//! rayon rather than a team (the shuffle's parallel sort, once an epoch),
//! and it replays as shared a round that a real team would run on its
//! caller (one with more jobs than the team was made for).

/// One round of a team: each job's time, and the time the caller spent
/// alone since the round before (in seconds).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Round {
    /// Time between the end of the previous round (or the recording's
    /// start) and this round's start: work no helper shares.
    pub serial_before: f64,
    /// Each job's time, in job order.
    pub jobs: Vec<f64>,
}

/// The time `rounds` take on a team of `threads` participants, plus
/// `serial_after` on the caller alone, with each round of two or more jobs
/// costing `handoff` more (waking the helpers and waiting for the last).
///
/// Participant `i` of `t` claims the jobs `i·n/t .. (i+1)·n/t` of an
/// `n`-job round first, then any job no one has claimed, lowest first,
/// each time it is free; the round ends when its last job does. This is
/// [`crate::team`]'s claiming order, with every participant present from
/// the round's start.
pub fn simulate(rounds: &[Round], serial_after: f64, threads: usize, handoff: f64) -> f64 {
    let t = threads.max(1);
    let mut total = serial_after;
    for round in rounds {
        total += round.serial_before + makespan(&round.jobs, t);
        if t > 1 && round.jobs.len() > 1 {
            total += handoff;
        }
    }
    total
}

/// When the last of `jobs` ends on `t` participants claiming as in
/// [`simulate`].
fn makespan(jobs: &[f64], t: usize) -> f64 {
    let n = jobs.len();
    let mut claimed = vec![false; n];
    // Each participant's clock and the next job of its own run.
    let mut free_at = vec![0.0f64; t];
    let mut own: Vec<std::ops::Range<usize>> = (0..t).map(|i| i * n / t..(i + 1) * n / t).collect();
    let mut left = n;
    while left > 0 {
        // The participant free first claims next (the lowest index on ties).
        let me = (0..t)
            .min_by(|&a, &b| free_at[a].total_cmp(&free_at[b]))
            .unwrap_or(0);
        let mine = own[me].by_ref().find(|&j| !claimed[j]);
        let Some(j) = mine.or_else(|| (0..n).find(|&j| !claimed[j])) else {
            break;
        };
        claimed[j] = true;
        left -= 1;
        free_at[me] += jobs[j];
    }
    free_at.into_iter().fold(0.0, f64::max)
}

#[cfg(feature = "timeline")]
pub use recorder::{record, recording, run_serially};

/// The recording itself: only with the `timeline` feature, so that no
/// training call pays for checking whether it records. A recording belongs
/// to the thread that starts it: the rounds of teams called from that thread
/// (a training call's), not those of other threads' calls.
#[cfg(feature = "timeline")]
mod recorder {
    use super::Round;
    use crate::error::Result;
    use std::cell::RefCell;
    use std::time::Instant;

    struct Log {
        rounds: Vec<Round>,
        /// When the last round ended (or the recording started).
        since: Instant,
    }

    thread_local! {
        static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
    }

    /// Whether this thread is recording (then its team rounds run serially).
    pub fn recording() -> bool {
        LOG.with(|log| log.borrow().is_some())
    }

    /// Runs `f` on this thread while recording its team rounds, and returns
    /// its result with the rounds and the time after the last one.
    ///
    /// # Panics
    /// When this thread is already recording.
    pub fn record<R>(f: impl FnOnce() -> R) -> (R, Vec<Round>, f64) {
        LOG.with(|log| {
            let mut log = log.borrow_mut();
            assert!(log.is_none(), "a recording inside a recording");
            *log = Some(Log {
                rounds: Vec::new(),
                since: Instant::now(),
            });
        });
        // Stopped also if `f` unwinds, so that later calls run normally.
        struct Stop;
        impl Drop for Stop {
            fn drop(&mut self) {
                LOG.with(|log| log.borrow_mut().take());
            }
        }
        let stop = Stop;
        let out = f();
        let log = LOG
            .with(|log| log.borrow_mut().take())
            .expect("the recording");
        drop(stop);
        let after = log.since.elapsed().as_secs_f64();
        (out, log.rounds, after)
    }

    /// A team round run by the caller alone, each job timed, the first
    /// error coming back after every job has run (as from a team's round).
    pub fn run_serially<J>(
        jobs: impl IntoIterator<Item = J>,
        f: impl Fn(J) -> Result<()>,
    ) -> Result<()> {
        let start = Instant::now();
        let mut times = Vec::new();
        let mut first_error = None;
        for job in jobs {
            let t = Instant::now();
            let outcome = f(job);
            times.push(t.elapsed().as_secs_f64());
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        LOG.with(|log| {
            if let Some(log) = log.borrow_mut().as_mut() {
                log.rounds.push(Round {
                    serial_before: start.duration_since(log.since).as_secs_f64(),
                    jobs: times,
                });
                log.since = Instant::now();
            }
        });
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(serial_before: f64, jobs: &[f64]) -> Round {
        Round {
            serial_before,
            jobs: jobs.to_vec(),
        }
    }

    #[test]
    fn one_participant_takes_the_sum() {
        let rounds = [round(1.0, &[2.0, 3.0]), round(0.5, &[4.0])];
        assert_eq!(simulate(&rounds, 0.25, 1, 9.0), 10.75);
    }

    #[test]
    fn own_runs_first_then_the_rest_lowest_first() {
        // Two participants, runs 0..2 and 2..4: 0 takes jobs 0 and 1 (5),
        // 1 takes 2 and 3 (2), then is free first and takes nothing more.
        assert_eq!(makespan(&[1.0, 4.0, 1.0, 1.0], 2), 5.0);
        // Runs 0..1 and 1..3: a long job 0 (6) against jobs 1 and 2 (3).
        assert_eq!(makespan(&[6.0, 1.0, 2.0], 2), 6.0);
        // Four equal jobs on four participants: one each.
        assert_eq!(makespan(&[1.0; 4], 4), 1.0);
        // More participants than jobs: the longest job.
        assert_eq!(makespan(&[1.0, 3.0], 8), 3.0);
    }

    #[test]
    fn a_free_participant_claims_what_another_has_not_reached() {
        // Participant 0's run is 0..3, 1's is 3..6. Job 0 is long, so
        // participant 1 finishes 3, 4, 5 (1 each) and then claims 1 and 2
        // before 0 reaches them.
        let jobs = [10.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(makespan(&jobs, 2), 10.0);
        // Without job 0's length the two runs balance.
        assert_eq!(makespan(&[1.0; 6], 2), 3.0);
    }

    #[test]
    fn hand_offs_count_once_per_shared_round() {
        let rounds = [round(0.0, &[1.0, 1.0]), round(0.0, &[1.0])];
        // Only the round of two jobs pays it, and only on a team.
        assert_eq!(simulate(&rounds, 0.0, 2, 0.5), 2.5);
        assert_eq!(simulate(&rounds, 0.0, 1, 0.5), 3.0);
    }

    #[test]
    fn no_rounds_is_the_time_after() {
        assert_eq!(simulate(&[], 1.5, 4, 1.0), 1.5);
    }

    #[cfg(feature = "timeline")]
    mod recorded {
        use super::super::*;
        use crate::error::FnnError;
        use crate::parallel::{run_with_threads, Par};
        use crate::team::Team;
        use std::sync::Mutex;

        #[test]
        fn a_recorded_round_runs_every_job_once_in_order_on_the_caller() {
            let seen = Mutex::new(Vec::new());
            let caller = std::thread::current().id();
            let (outcome, rounds, after) = run_with_threads(2, || {
                let mut team = Team::new(2, 8);
                let here = std::thread::current().id();
                record(|| {
                    assert!(recording());
                    team.run(Par { threads: 2 }, 0..5, |j| {
                        seen.lock()
                            .unwrap()
                            .push((j, std::thread::current().id() == here));
                        if j == 1 {
                            Err(FnnError::Config("job 1".into()))
                        } else {
                            Ok(())
                        }
                    })
                })
            })
            .unwrap();
            // Every job ran, on the recording thread, after the failing one too.
            assert_eq!(
                *seen.lock().unwrap(),
                (0..5).map(|j| (j, true)).collect::<Vec<_>>()
            );
            assert!(matches!(outcome, Err(FnnError::Config(m)) if m == "job 1"));
            assert_eq!(rounds.len(), 1);
            assert_eq!(rounds[0].jobs.len(), 5);
            assert!(rounds[0].jobs.iter().all(|&t| t >= 0.0) && after >= 0.0);
            // The recording ended with the call, on every thread.
            assert!(!recording());
            assert_eq!(std::thread::current().id(), caller);
        }

        #[test]
        fn a_recorded_fit_is_the_same_bytes_and_its_replay_on_one_thread_its_length() {
            use crate::activation::Activation;
            use crate::features::Features;
            use crate::loss::Loss;
            use crate::network::Network;
            use crate::optim::{Optimizer, Schedule};
            use crate::train::{fit_epochs, Counters, Data, Score, Silent, Stopping, TrainConfig};

            // A (100,) network at batch 200: four row blocks and six
            // optimizer chunks a step; on two threads the blocks round has
            // two jobs of two blocks (`BatchStep::loss_and_gradient`).
            let net = Network::new(
                vec![100, 100, 5],
                vec![Activation::Relu],
                Loss::SoftmaxLogLoss,
            )
            .unwrap();
            let rows = 400;
            let x: Vec<f64> = (0..rows * 100)
                .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
                .collect();
            let mut y = vec![0.0; rows * 5];
            for r in 0..rows {
                y[r * 5 + r % 5] = 1.0;
            }
            let cfg = TrainConfig {
                net: net.clone(),
                dropout: vec![],
                alpha: 1e-4,
                l1: 0.0,
                optimizer: Optimizer::ADAM,
                schedule: Schedule::Constant,
                batch_size: 200,
                shuffle: true,
                seed: 3,
                max_epochs: 2,
                tol: 1e-4,
                n_iter_no_change: 10,
                stopping: Stopping::None,
                restore_best: false,
                score: Score::Accuracy,
                threads: 2,
            };
            let fit = |recorded: bool| {
                let mut params = vec![0.0f64; net.n_params()];
                net.init_params(1, &mut params).unwrap();
                let mut slots = vec![0.0f64; 3 * net.n_params()];
                let mut counters = Counters::start(1e-3);
                let data = Data {
                    x: Features::Dense(&x),
                    y: &y,
                    weights: None,
                    rows,
                };
                let mut call = || {
                    fit_epochs(
                        &cfg,
                        &mut params,
                        &mut slots,
                        &mut counters,
                        data,
                        None,
                        &mut Silent,
                    )
                    .unwrap()
                };
                let rounds = run_with_threads(2, || {
                    if recorded {
                        let start = std::time::Instant::now();
                        let (_, rounds, after) = record(&mut call);
                        Some((rounds, after, start.elapsed().as_secs_f64()))
                    } else {
                        call();
                        None
                    }
                })
                .unwrap();
                (params, rounds)
            };
            let (plain, _) = fit(false);
            let (params, recording) = fit(true);
            assert!(plain
                .iter()
                .zip(&params)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            let (rounds, after, wall) = recording.unwrap();
            // Two steps an epoch, each a round of two jobs of blocks and one
            // of six chunks.
            let shape: Vec<usize> = rounds.iter().map(|r| r.jobs.len()).collect();
            assert_eq!(shape, [2, 6].repeat(4));
            // On one participant the replay is the recorded call's own time.
            let replayed = simulate(&rounds, after, 1, 1.0);
            assert!(
                replayed <= wall && replayed > 0.5 * wall,
                "{replayed} of {wall}"
            );
        }
    }
}
