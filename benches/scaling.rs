//! How fnn's training step would scale past this host's cores: each default
//! network's fit recorded job by job on one core, with its job lists cut for
//! 1, 2, 4 and 8 threads, and replayed on a team of that size
//! (`fnn::timeline`), beside the fits measured on the cores there are.
//!
//! `cargo bench --features timeline --bench scaling` prints a Markdown table.
//! The replay leaves out what cores cost each other (a hand-off per round is
//! the one measured here on two threads; jobs take what they took alone), so
//! it is a floor; the measured two-thread fit shows how far above it a real
//! team runs on this host.

use std::time::Instant;

use fnn::activation::Activation;
use fnn::features::Features;
use fnn::loss::Loss;
use fnn::network::Network;
use fnn::optim::{Optimizer, Schedule};
use fnn::parallel::{run_with_threads, Par};
use fnn::team::Team;
use fnn::timeline::{record, simulate, Round};
use fnn::train::{fit_epochs, Counters, Data, Score, Silent, Stopping, TrainConfig};
use fnn::Float;

/// A network and data shape to time: scikit-learn's defaults (a (100,)
/// network, batches of `min(200, n)`, float64) on the defaults workloads'
/// shapes, and the peers' mnist network in float32.
struct Shape {
    name: &'static str,
    sizes: &'static [usize],
    loss: Loss,
    rows: usize,
    batch: usize,
    epochs: usize,
    f32: bool,
}

const SHAPES: [Shape; 6] = [
    Shape {
        name: "make_classification 50 k",
        sizes: &[100, 100, 5],
        loss: Loss::SoftmaxLogLoss,
        rows: 50_000,
        batch: 200,
        epochs: 1,
        f32: false,
    },
    Shape {
        name: "make_regression 20 k",
        sizes: &[50, 100, 1],
        loss: Loss::SquaredError,
        rows: 20_000,
        batch: 200,
        epochs: 2,
        f32: false,
    },
    Shape {
        name: "digits",
        sizes: &[64, 100, 10],
        loss: Loss::SoftmaxLogLoss,
        rows: 1347,
        batch: 200,
        epochs: 20,
        f32: false,
    },
    Shape {
        name: "breast_cancer",
        sizes: &[30, 100, 1],
        loss: Loss::SigmoidLogLoss,
        rows: 426,
        batch: 200,
        epochs: 40,
        f32: false,
    },
    Shape {
        name: "wine",
        sizes: &[13, 100, 3],
        loss: Loss::SoftmaxLogLoss,
        rows: 133,
        batch: 133,
        epochs: 100,
        f32: false,
    },
    Shape {
        name: "mnist (peers, float32)",
        sizes: &[784, 256, 128, 10],
        loss: Loss::SoftmaxLogLoss,
        rows: 12_800,
        batch: 128,
        epochs: 1,
        f32: true,
    },
];

/// Thread counts replayed.
const REPLAYED: [usize; 4] = [1, 2, 4, 8];

/// Fits timed per thread count (the median is reported), and recordings
/// replayed per thread count (the median prediction).
const FITS: usize = 5;
const RECORDINGS: usize = 3;

fn main() {
    // The host's mode: on a virtual machine two vCPUs are sometimes two
    // hyperthreads of one core (the two-thread peak then reads one core's).
    let peak = |threads| fnn::fma_peak::gflops(threads, 20).unwrap_or(f64::NAN);
    let (one, two) = (peak(1), peak(2));
    let handoff = handoff_seconds();
    println!(
        "FMA peak (float32) on 1 and 2 threads: {one:.0} and {two:.0} GFLOP/s. \
         A team round's hand-off on two threads: {:.2} µs (median of rounds of two empty jobs).\n",
        handoff * 1e6
    );
    println!("| network | batch | measured 1 / 2 threads | replayed 1 / 2 / 4 / 8 threads | replayed speed-up at 2 / 4 / 8 | threads used at 4 / 8 | outside rounds (caller alone) | rounds' jobs |");
    println!("|---|---|---|---|---|---|---|---|");
    for shape in &SHAPES {
        if shape.f32 {
            row::<f32>(shape, handoff);
        } else {
            row::<f64>(shape, handoff);
        }
    }
}

fn row<T: Float + Send + Sync>(shape: &Shape, handoff: f64) {
    let (x, y) = data::<T>(shape);
    let data = Data {
        x: Features::Dense(&x),
        y: &y,
        weights: None,
        rows: shape.rows,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let measured: Vec<f64> = (1..=cores.min(2))
        .map(|t| median((0..FITS).map(|_| fit(shape, data, t)).collect()))
        .collect();
    let used: Vec<usize> = REPLAYED
        .iter()
        .map(|&t| config(shape, t).effective_threads(shape.rows))
        .collect();
    let replayed: Vec<f64> = REPLAYED
        .iter()
        .map(|&t| {
            median(
                (0..RECORDINGS)
                    .map(|_| replay(shape, data, t, handoff).0)
                    .collect(),
            )
        })
        .collect();
    // Where a 4-thread fit's work lies: alone on the caller, or in rounds
    // (how many of each size).
    let (_, rounds, after) = replay(shape, data, 4, handoff);
    let alone: f64 = after + rounds.iter().map(|r| r.serial_before).sum::<f64>();
    let mut kinds: Vec<(usize, usize)> = Vec::new();
    for r in &rounds {
        match kinds.iter_mut().find(|(jobs, _)| *jobs == r.jobs.len()) {
            Some((_, count)) => *count += 1,
            None => kinds.push((r.jobs.len(), 1)),
        }
    }
    kinds.sort_unstable();
    let ms = |s: f64| format!("{:.1}", s * 1e3);
    let speedup = |i: usize| format!("{:.2}×", replayed[0] / replayed[i]);
    let total = alone + rounds.iter().flat_map(|r| &r.jobs).sum::<f64>();
    println!(
        "| {} {:?} | {} | {} ms | {} ms | {} / {} / {} | {} / {} | {:.0}% | {} |",
        shape.name,
        shape.sizes,
        shape.batch,
        measured
            .iter()
            .map(|&s| ms(s))
            .collect::<Vec<_>>()
            .join(" / "),
        replayed
            .iter()
            .map(|&s| ms(s))
            .collect::<Vec<_>>()
            .join(" / "),
        speedup(1),
        speedup(2),
        speedup(3),
        used[2],
        used[3],
        100.0 * alone / total,
        kinds
            .iter()
            .map(|(jobs, count)| format!("{count} of {jobs}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// One recorded fit on `threads` threads' job lists, replayed on as many
/// participants as the fit would use; with the recording (rounds and the
/// time after the last).
fn replay<T: Float + Send + Sync>(
    shape: &Shape,
    data: Data<'_, T>,
    threads: usize,
    handoff: f64,
) -> (f64, Vec<Round>, f64) {
    let (used, (_, rounds, after)) = train(shape, data, threads, |fit| record(fit));
    (simulate(&rounds, after, used, handoff), rounds, after)
}

/// One fit's seconds on `threads` threads, not recorded.
fn fit<T: Float + Send + Sync>(shape: &Shape, data: Data<'_, T>, threads: usize) -> f64 {
    train(shape, data, threads, |fit| {
        let start = Instant::now();
        fit();
        start.elapsed().as_secs_f64()
    })
    .1
}

/// `around(fit)` on the pool a fit on `threads` threads uses, `fit` being
/// that fit from fresh parameters; with the threads used.
fn train<T: Float + Send + Sync, R: Send>(
    shape: &Shape,
    data: Data<'_, T>,
    threads: usize,
    around: impl FnOnce(&mut dyn FnMut()) -> R + Send,
) -> (usize, R) {
    let cfg = config(shape, threads);
    let used = cfg.effective_threads(shape.rows);
    let (mut params, mut slots, mut counters) = state::<T>(&cfg.net);
    let mut fit = || {
        fit_epochs(
            &cfg,
            &mut params,
            &mut slots,
            &mut counters,
            data,
            None,
            &mut Silent,
        )
        .expect("training");
    };
    let out = run_with_threads(used, || around(&mut fit)).expect("the pool");
    (used, out)
}

fn config(shape: &Shape, threads: usize) -> TrainConfig {
    let hidden = vec![Activation::Relu; shape.sizes.len() - 2];
    TrainConfig {
        net: Network::new(shape.sizes.to_vec(), hidden, shape.loss).expect("a network"),
        dropout: vec![],
        alpha: 1e-4,
        l1: 0.0,
        optimizer: Optimizer::ADAM,
        schedule: Schedule::Constant,
        batch_size: shape.batch,
        shuffle: true,
        seed: 0,
        max_epochs: shape.epochs,
        tol: 1e-4,
        n_iter_no_change: 10,
        stopping: Stopping::None,
        restore_best: false,
        score: Score::Accuracy,
        threads,
    }
}

fn state<T: Float>(net: &Network) -> (Vec<T>, Vec<T>, Counters) {
    let mut params = vec![T::of(0.0); net.n_params()];
    net.init_params(0, &mut params).expect("init");
    let slots = vec![T::of(0.0); 3 * net.n_params()];
    let counters = Counters::start(1e-3);
    (params, slots, counters)
}

/// Inputs in [-1, 1) and one-hot (or, for one output, 0/1) targets.
fn data<T: Float>(shape: &Shape) -> (Vec<T>, Vec<T>) {
    let (d, k) = (shape.sizes[0], *shape.sizes.last().expect("sizes"));
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = (0..shape.rows * d)
        .map(|_| T::of(next() * 2.0 - 1.0))
        .collect();
    let mut y = vec![T::of(0.0); shape.rows * k];
    for r in 0..shape.rows {
        let c = (next() * k.max(2) as f64) as usize;
        if k == 1 {
            y[r] = T::of((c % 2) as f64);
        } else {
            y[r * k + c % k] = T::of(1.0);
        }
    }
    (x, y)
}

/// A round's fixed cost on a team of two: rounds of two empty jobs.
fn handoff_seconds() -> f64 {
    const ROUNDS: usize = 20_000;
    run_with_threads(2, || {
        let mut team = Team::new(2, 2);
        let par = Par { threads: 2 };
        let mut times: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                team.run(par, 0..2, |_| Ok(())).expect("a round");
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[ROUNDS / 2]
    })
    .expect("the pool")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
