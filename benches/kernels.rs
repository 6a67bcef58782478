//! Criterion benches of the core kernels on the mnist network's shapes
//! (784 → 256 → 128 → 10, batches of 128 rows), reported as throughput.
//! Run with `cargo bench --bench kernels`.
//!
//! Criterion reports "elements/s"; what an element is depends on the group:
//!
//! - `gemm_*`, `train_step_*`, `fma_peak_*`: one FLOP (GFLOP/s = 2·m·k·n / time
//!   for a product; a training step counts forward, weight gradients and the
//!   deltas of every layer but the first, ~1.0 MFLOP per sample);
//! - `activation_*`: one value passed through ReLU or its derivative;
//! - `adam_step_*`: one parameter updated;
//! - `predict_1_row_*`: one row predicted.
//!
//! `fma_peak_*` measures what the machine gives: independent chains of
//! register-resident FMAs (no memory traffic), 256- and 512-bit wide, on 1 and
//! on all cores; the GEMM figures are best read as a fraction of it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fnn::activation::Activation;
use fnn::batch::BatchStep;
use fnn::features::Features;
use fnn::linalg::{matmul, matmul_by, Route, View};
use fnn::loss::{Loss, Output};
use fnn::network::Network;
use fnn::optim::{Optimizer, Schedule};
use fnn::parallel::{run_with_threads, Par};
use fnn::penalty::Penalty;
use fnn::simd::FlushSubnormals;
use fnn::team::Team;
use fnn::train::TrainConfig;
use fnn::train::{fit_epochs, Counters, Data, Score, Silent, Stopping};
use fnn::update::StepSettings;
use fnn::workspace::Workspace;

/// The mnist network's layer sizes and batch size.
const SIZES: [usize; 4] = [784, 256, 128, 10];
const BATCH: usize = 128;

fn filled(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        vec![1, cores]
    } else {
        vec![1]
    }
}

fn mnist_net() -> Network {
    relu_net(&SIZES)
}

/// A ReLU network with layer `sizes` and a softmax log loss.
fn relu_net(sizes: &[usize]) -> Network {
    let loss = Loss::parse("log_loss", Output::Softmax, 1.0).expect("softmax log loss");
    let hidden = vec![Activation::Relu; sizes.len() - 2];
    Network::new(sizes.to_vec(), hidden, loss).expect("the network")
}

/// How a product's operands are laid out in memory.
#[derive(Clone, Copy)]
enum Layout {
    /// `A (m×k) · B (k×n)`, both row-major: the forward pass.
    Plain,
    /// `Aᵀ · B` with `A` stored row-major as `k×m`: weight gradients
    /// `dW = Xᵀ·Δ`, `X` being the batch's rows.
    TransposedLhs,
    /// `A · Bᵀ` with `B` stored row-major as `n×k`: deltas `Δ·Wᵀ`.
    TransposedRhs,
}

/// Every product of one training step of the mnist network, by shape.
fn gemm_shapes(c: &mut Criterion) {
    let (d0, d1, d2, d3) = (SIZES[0], SIZES[1], SIZES[2], SIZES[3]);
    // (name, m, k, n, layout) for `dst (m×n) = lhs (m×k) · rhs (k×n)`.
    let shapes = [
        ("forward_l1", BATCH, d0, d1, Layout::Plain),
        ("forward_l2", BATCH, d1, d2, Layout::Plain),
        ("forward_l3", BATCH, d2, d3, Layout::Plain),
        ("grad_w1", d0, BATCH, d1, Layout::TransposedLhs),
        ("grad_w2", d1, BATCH, d2, Layout::TransposedLhs),
        ("grad_w3", d2, BATCH, d3, Layout::TransposedLhs),
        ("delta_l2", BATCH, d3, d2, Layout::TransposedRhs),
        ("delta_l1", BATCH, d2, d1, Layout::TransposedRhs),
    ];
    for (name, m, k, n, layout) in shapes {
        let (a, b) = (filled(m * k), filled(k * n));
        let (lhs, rhs) = operands(&a, &b, m, k, n, layout);
        let mut out = vec![0.0f32; m * n];
        let mut group = c.benchmark_group(format!("gemm_{name}_{m}x{k}_by_{k}x{n}"));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for threads in thread_counts() {
            group.bench_function(format!("{threads}_threads"), |bench| {
                bench.iter(|| {
                    run_with_threads(threads, || {
                        matmul(&mut out, lhs, rhs, false, Par { threads })
                    })
                })
            });
        }
        group.finish();
    }
}

/// Views of `a` (holding `m×k`) and `b` (holding `k×n`) in `layout`.
fn operands<'a>(
    a: &'a [f32],
    b: &'a [f32],
    m: usize,
    k: usize,
    n: usize,
    layout: Layout,
) -> (View<'a, f32>, View<'a, f32>) {
    match layout {
        Layout::Plain => (View::rows(a, m, k), View::rows(b, k, n)),
        Layout::TransposedLhs => (View::transposed(a, k, m), View::rows(b, k, n)),
        Layout::TransposedRhs => (View::rows(a, m, k), View::transposed(b, n, k)),
    }
}

/// Products small enough for `small_matmul` (the tiny and small workloads'
/// networks, the mnist net's 10-wide layer), on one thread, through the
/// automatic route and forced through `gemm`: what the size limit rests on.
fn small_shapes(c: &mut Criterion) {
    let shapes = [
        ("tiny_forward_l1", 16, 4, 16, Layout::Plain),
        ("tiny_grad_w2", 16, 16, 3, Layout::TransposedLhs),
        ("small_forward_l1", 64, 64, 64, Layout::Plain),
        ("small_grad_w1", 64, 64, 64, Layout::TransposedLhs),
        ("small_delta_l1", 64, 10, 64, Layout::TransposedRhs),
        ("mnist_forward_l3", BATCH, 128, 10, Layout::Plain),
        ("mnist_delta_l2", BATCH, 10, 128, Layout::TransposedRhs),
        ("limit_128x128_by_128x16", BATCH, 128, 16, Layout::Plain),
        ("beyond_128x128_by_128x32", BATCH, 128, 32, Layout::Plain),
    ];
    for (name, m, k, n, layout) in shapes {
        let (a, b) = (filled(m * k), filled(k * n));
        let (lhs, rhs) = operands(&a, &b, m, k, n, layout);
        let mut out = vec![0.0f32; m * n];
        let mut group = c.benchmark_group(format!("small_{name}"));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for (label, route) in [("auto", Route::Auto), ("gemm", Route::Gemm)] {
            group.bench_function(label, |bench| {
                bench.iter(|| matmul_by(route, &mut out, lhs, rhs, false, Par::SERIAL))
            });
        }
        group.finish();
    }
}

/// ReLU and its derivative over a batch of the first hidden layer (128 × 256).
fn activation(c: &mut Criterion) {
    let len = BATCH * SIZES[1];
    let values = filled(len);
    let mut group = c.benchmark_group(format!("activation_relu_{BATCH}x{}", SIZES[1]));
    group.throughput(Throughput::Elements(len as u64));
    let mut z = values.clone();
    group.bench_function("apply", |bench| {
        bench.iter(|| {
            z.copy_from_slice(&values);
            Activation::Relu.apply(black_box(&mut z));
        })
    });
    let mut delta = values.clone();
    group.bench_function("multiply_derivative", |bench| {
        bench.iter(|| Activation::Relu.multiply_derivative(black_box(&values), &mut delta))
    });
    group.finish();
}

/// One Adam step over the mnist network's parameters, on 1 and on all cores;
/// `penalized` adds the L2 penalty's gradient (alpha 1e-4) inside the step, as
/// the training loop does.
fn adam_step(c: &mut Criterion) {
    let net = mnist_net();
    let n = net.n_params();
    let mut params = filled(n);
    let grad: Vec<f32> = filled(n).iter().map(|g| g * 1e-2).collect();
    let mut slots = vec![0.0f32; 3 * n];
    let weights = net.weight_ranges();
    let adam = Optimizer::ADAM;
    let penalty = Penalty::new(1e-4, 0.0, BATCH as f32).expect("a penalty");
    let mut group = c.benchmark_group(format!("adam_step_{n}_params"));
    group.throughput(Throughput::Elements(n as u64));
    let mut t = 0u64;
    for threads in thread_counts() {
        let par = Par { threads };
        group.bench_function(format!("f32_{threads}_threads"), |bench| {
            bench.iter(|| {
                t += 1;
                run_with_threads(threads, || {
                    let (p, s) = (&mut params, &mut slots[..]);
                    adam.update(p, &grad, s, 1e-3, t, &weights, None, par)
                })
            })
        });
        group.bench_function(format!("f32_penalized_{threads}_threads"), |bench| {
            bench.iter(|| {
                t += 1;
                run_with_threads(threads, || {
                    let (p, s) = (&mut params, &mut slots[..]);
                    adam.update(p, &grad, s, 1e-3, t, &weights, Some(penalty), par)
                })
            })
        });
    }
    group.finish();
}

/// Forward, backward and Adam on one batch of 128 rows: the engine's batch
/// loop without the gathering of rows, so GFLOP/s here against the GEMM
/// figures shows what the passes between the products cost.
fn train_step(c: &mut Criterion) {
    train_step_of::<f32>(c, "mnist", &SIZES, BATCH);
    // The tiny and small workloads' networks (iris, digits): per-call costs.
    train_step_of::<f32>(c, "digits", &[64, 64, 10], 64);
    train_step_of::<f32>(c, "iris", &[4, 16, 3], 16);
    // scikit-learn's defaults, float64: (100,) on make_classification's 100
    // features and 5 classes, and on wine's 133 rows of 13 features.
    train_step_of::<f64>(c, "default_f64", &[100, 100, 5], 200);
    train_step_of::<f64>(c, "wine_f64", &[13, 100, 3], 133);
}

/// One step (forward, backward, Adam with alpha 1e-4) of a ReLU network with
/// layer `sizes` on batches of `batch` rows, as the training loop runs it:
/// the batch cut into blocks by shape ([`fnn::batch::blocks_for`]), the
/// penalty joining in the optimizer step.
fn train_step_of<T: fnn::Float>(c: &mut Criterion, name: &str, sizes: &[usize], batch: usize) {
    let net = relu_net(sizes);
    let n = net.n_params();
    let mut params = vec![T::zero(); n];
    net.init_params(0, &mut params).expect("init");
    let mut slots = vec![T::zero(); 3 * n];
    let adam = Optimizer::ADAM;
    let penalty = Penalty::new(1e-4, 0.0, T::of(batch as f64)).expect("a penalty");
    let k = net.n_outputs();
    let mut group = c.benchmark_group(format!("train_step_{name}_batch_{batch}"));
    group.throughput(Throughput::Elements(
        (2 * batch * fnn::batch::work_per_row(&net)) as u64,
    ));
    // As in training: without it the 1-thread run, on the calling thread,
    // slows down on subnormal moments (pool threads flush them already).
    let _flush = FlushSubnormals::new();
    for threads in thread_counts() {
        let mut step = BatchStep::<T>::new(&net, batch, &[]).expect("buffers");
        for (v, x) in step.batch.input.iter_mut().zip(filled(batch * sizes[0])) {
            *v = T::of(f64::from(x) + 0.5);
        }
        for r in 0..batch {
            step.batch.targets[r * k + r % k] = T::one();
            step.batch.weights[r] = T::one();
        }
        let mut t = 0u64;
        let par = Par { threads };
        group.bench_function(format!("{threads}_threads"), |bench| {
            bench.iter(|| {
                run_with_threads(threads, || -> fnn::error::Result<f64> {
                    let loss = step
                        .loss_and_gradient(&net, &params, None, batch, None, par)?
                        .loss;
                    t += 1;
                    let (p, s) = (&mut params, &mut slots[..]);
                    let settings = StepSettings {
                        optimizer: &adam,
                        lr: 1e-3,
                        t,
                        penalty: Some(penalty),
                    };
                    step.update(settings, p, s, par)?;
                    Ok(loss)
                })
            })
        });
    }
    group.finish();
}

/// Whole epochs of `fit_epochs` on scikit-learn's defaults in float64 (Adam,
/// alpha 1e-4, batch `min(200, n)`, a (100,) ReLU network), inside one pool
/// as a fit runs them, so the hand-offs between steps are the ones a fit
/// pays: the 50k default fit's network on 10,000 synthetic rows (50 steps an
/// epoch) and wine's (one 133-row step an epoch).
fn fit_epochs_default(c: &mut Criterion) {
    fit_epochs_of(c, "default_f64", 100, 5, 10_000, 1);
    fit_epochs_of(c, "wine_f64", 13, 3, 133, 20);
}

fn fit_epochs_of(
    c: &mut Criterion,
    name: &str,
    features: usize,
    classes: usize,
    rows: usize,
    epochs: usize,
) {
    let net = relu_net(&[features, 100, classes]);
    let x: Vec<f64> = filled(rows * features)
        .iter()
        .map(|&v| f64::from(v) * 2.0)
        .collect();
    let mut y = vec![0.0f64; rows * classes];
    for r in 0..rows {
        y[r * classes + (r * 7) % classes] = 1.0;
    }
    let data = Data {
        x: Features::Dense(&x),
        y: &y,
        weights: None,
        rows,
    };
    let mut group = c.benchmark_group(format!("fit_epochs_{name}_{rows}_rows"));
    group.throughput(Throughput::Elements(
        (2 * rows * epochs * fnn::batch::work_per_row(&net)) as u64,
    ));
    for threads in thread_counts() {
        let cfg = TrainConfig {
            net: net.clone(),
            dropout: vec![],
            alpha: 1e-4,
            l1: 0.0,
            optimizer: Optimizer::ADAM,
            schedule: Schedule::Constant,
            batch_size: 200,
            shuffle: true,
            seed: 0,
            max_epochs: epochs,
            tol: 1e-4,
            n_iter_no_change: 10,
            stopping: Stopping::None,
            restore_best: false,
            score: Score::Accuracy,
            threads,
        };
        let mut params = vec![0.0f64; net.n_params()];
        net.init_params(0, &mut params).expect("init");
        let mut slots = vec![0.0f64; 3 * net.n_params()];
        let mut counters = Counters::start(1e-3);
        let used = cfg.effective_threads(rows);
        group.bench_function(format!("{threads}_threads"), |bench| {
            bench.iter_custom(|iters| {
                let cfg = TrainConfig {
                    max_epochs: epochs * iters as usize,
                    ..cfg.clone()
                };
                run_with_threads(used, || {
                    let start = std::time::Instant::now();
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
                    start.elapsed()
                })
                .expect("the pool")
            })
        });
    }
    group.finish();
}

/// One row through the mnist network: with a training workspace made per
/// call (what `fnn._core.forward` did), an inference workspace made per call
/// (what it does) and a workspace reused.
fn predict_one_row(c: &mut Criterion) {
    let net = mnist_net();
    let mut params = vec![0.0f32; net.n_params()];
    net.init_params(0, &mut params).expect("init");
    let row: Vec<f32> = filled(SIZES[0]).iter().map(|v| v + 0.5).collect();
    let mut group = c.benchmark_group("predict_1_row_mnist");
    group.throughput(Throughput::Elements(1));
    group.bench_function("new_workspace_per_call", |bench| {
        bench.iter(|| -> fnn::error::Result<f32> {
            let mut ws = Workspace::<f32>::new(&net, 1, &[])?;
            net.forward(&params, &mut ws, &row, 1, false, Par::SERIAL)?;
            Ok(ws.logits(1, &net)[0])
        })
    });
    group.bench_function("inference_workspace_per_call", |bench| {
        bench.iter(|| -> fnn::error::Result<f32> {
            let mut ws = Workspace::<f32>::for_inference(&net, 1)?;
            net.forward(&params, &mut ws, &row, 1, false, Par::SERIAL)?;
            Ok(ws.logits(1, &net)[0])
        })
    });
    let mut ws = Workspace::<f32>::new(&net, 1, &[]).expect("workspace");
    group.bench_function("reused_workspace", |bench| {
        bench.iter(|| -> fnn::error::Result<f32> {
            net.forward(&params, &mut ws, &row, 1, false, Par::SERIAL)?;
            Ok(ws.logits(1, &net)[0])
        })
    });
    group.finish();
}

/// What sharing work with another thread costs inside the fit's pool: a
/// `rayon::join` of two empty halves from inside the pool, called back to
/// back (the workers still awake, as between a fit's steps), and after the
/// calling worker has slept 100 µs and 1 ms (the other one gone to sleep);
/// and a round of the training loop's `Team` of two threads.
/// Elements: joins, or rounds.
fn handoff(c: &mut Criterion) {
    let threads = *thread_counts().last().unwrap_or(&1);
    if threads < 2 {
        return;
    }
    let mut group = c.benchmark_group("handoff");
    group.throughput(Throughput::Elements(1));
    let join = || rayon::join(|| black_box(1), || black_box(2));
    // From inside the pool, as the training loop calls it.
    let timed_in_pool = |iters: u64, idle: Duration| {
        run_with_threads(threads, || {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if !idle.is_zero() {
                    std::thread::sleep(idle);
                }
                let start = std::time::Instant::now();
                black_box(join());
                total += start.elapsed();
            }
            total
        })
        .expect("the pool")
    };
    for idle_us in [0u64, 100, 1000] {
        let idle = Duration::from_micros(idle_us);
        group.bench_function(format!("join_after_{idle_us}us_idle"), |bench| {
            bench.iter_custom(|iters| timed_in_pool(iters, idle))
        });
    }
    // A team's round of two 1 µs jobs, back to back, as a step's two
    // rounds run (the helper spinning between them): what a round costs
    // beyond the 1 µs of work is its hand-off.
    let spin = |_: usize| {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_micros(1) {
            std::hint::spin_loop();
        }
        Ok(())
    };
    group.bench_function("team_round_of_two_1us_jobs", |bench| {
        bench.iter_custom(|iters| {
            run_with_threads(2, || {
                let mut team = Team::new(2, 2);
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    team.run(Par { threads: 2 }, vec![0, 1], spin)
                        .expect("a round");
                }
                start.elapsed()
            })
            .expect("the pool")
        })
    });
    group.finish();
}

/// The machine's float32 FMA peak (`fnn::fma_peak`), at each width the CPU
/// has, on 1 and on all cores.
fn fma_peak(c: &mut Criterion) {
    for width in fnn::fma_peak::widths() {
        let mut group = c.benchmark_group(format!("fma_peak_{}", width.name()));
        for threads in thread_counts() {
            group.throughput(Throughput::Elements(width.flops() * threads as u64));
            group.bench_function(format!("{threads}_threads"), |bench| {
                bench.iter(|| {
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            s.spawn(|| black_box(width.run()));
                        }
                    })
                })
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    // Short runs keep `make bench` within its budget; criterion's medians
    // and confidence intervals still come from 30 samples each.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = gemm_shapes, small_shapes, activation, adam_step, train_step, fit_epochs_default, predict_one_row, handoff, fma_peak
}
criterion_main!(benches);
