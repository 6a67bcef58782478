//! Property tests of the training entry point: whatever shapes, settings and
//! values come in, `fit_epochs` returns `Ok` or `Err` and never panics, and an
//! `Ok` on finite inputs leaves finite parameters.

use proptest::prelude::*;

use crate::activation::Activation;
use crate::features::Features;
use crate::loss::Loss;
use crate::network::Network;
use crate::optim::{Optimizer, Schedule};
use crate::train::{fit_epochs, Counters, Data, Score, Silent, Stopping, TrainConfig};

fn activation(i: u8) -> Activation {
    match i % 5 {
        0 => Activation::Identity,
        1 => Activation::Sigmoid,
        2 => Activation::Tanh,
        3 => Activation::Relu,
        _ => Activation::LeakyRelu { slope: 0.01 },
    }
}

fn loss(i: u8, outputs: usize) -> Loss {
    match i % 6 {
        0 => Loss::SquaredError,
        1 => Loss::Huber { delta: 1.0 },
        2 if outputs > 1 => Loss::SoftmaxLogLoss,
        2 | 3 => Loss::SigmoidLogLoss,
        4 => Loss::Hinge,
        _ => Loss::SquaredHinge,
    }
}

fn optimizer(i: u8) -> Optimizer {
    match i % 4 {
        0 => Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
        },
        1 => Optimizer::RmsProp {
            rho: 0.9,
            eps: 1e-8,
            momentum: 0.5,
            centered: true,
        },
        2 => Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: true,
            weight_decay: 0.0,
        },
        _ => Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            weight_decay: 0.1,
        },
    }
}

/// A value that is usually ordinary and sometimes hostile.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => -3.0..3.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-1e308),
        1 => Just(0.0),
    ]
}

/// `n` values: all ordinary most of the time, else with hostile ones mixed in.
fn values(n: usize, ordinary: std::ops::Range<f64>) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        4 => prop::collection::vec(ordinary, n),
        1 => prop::collection::vec(value(), n),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    sizes: Vec<usize>,
    acts: Vec<u8>,
    loss: u8,
    opt: u8,
    rows: usize,
    batch: usize,
    dropout: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    weights: Option<Vec<f64>>,
    params: Vec<f64>,
    threads: usize,
    lr: f64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(1usize..6, 2..5),
        0usize..9,
        0usize..12,
        1usize..4,
    )
        .prop_flat_map(|(sizes, rows, batch, threads)| {
            let n_params: usize = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
            let hidden = sizes.len() - 2;
            // Lengths are right most of the time and off by one sometimes.
            let x_len = prop_oneof![6 => Just(rows * sizes[0]), 1 => Just(rows * sizes[0] + 1)];
            let y_len = rows * sizes[sizes.len() - 1];
            let p_len = prop_oneof![6 => Just(n_params), 1 => Just(n_params.saturating_sub(1))];
            (
                (
                    Just(sizes),
                    prop::collection::vec(any::<u8>(), hidden),
                    any::<u8>(),
                    any::<u8>(),
                ),
                (Just(rows), Just(batch), Just(threads)),
                prop::collection::vec(
                    prop_oneof![6 => Just(0.0), 3 => Just(0.5), 1 => Just(1.0), 1 => Just(-0.1)],
                    hidden,
                ),
                x_len.prop_flat_map(|n| values(n, -3.0..3.0)),
                values(y_len, 0.0..1.0),
                prop::option::of(values(rows, 0.0..2.0)),
                p_len.prop_flat_map(|n| prop::collection::vec(-1.0..1.0f64, n)),
                prop_oneof![Just(1e-2), Just(1e3), Just(0.0)],
            )
        })
        .prop_map(
            |(
                (sizes, acts, loss, opt),
                (rows, batch, threads),
                dropout,
                x,
                y,
                weights,
                params,
                lr,
            )| {
                Case {
                    sizes,
                    acts,
                    loss,
                    opt,
                    rows,
                    batch,
                    dropout,
                    x,
                    y,
                    weights,
                    params,
                    threads,
                    lr,
                }
            },
        )
}

fn run(case: &Case) -> Option<Result<Vec<f64>, crate::FnnError>> {
    let outputs = *case.sizes.last()?;
    let acts = case.acts.iter().map(|&a| activation(a)).collect();
    let net = Network::new(case.sizes.clone(), acts, loss(case.loss, outputs)).ok()?;
    let cfg = TrainConfig {
        net,
        dropout: case.dropout.clone(),
        alpha: 1e-3,
        l1: 1e-4,
        optimizer: optimizer(case.opt),
        schedule: Schedule::Constant,
        batch_size: case.batch,
        shuffle: true,
        seed: 1,
        max_epochs: 2,
        tol: 1e-4,
        n_iter_no_change: 1,
        stopping: Stopping::TrainLoss,
        restore_best: true,
        score: Score::Accuracy,
        threads: case.threads,
    };
    let mut params = case.params.clone();
    let mut slots = vec![0.0; 3 * params.len()];
    let mut counters = Counters {
        step: 0,
        epoch: 0,
        samples_seen: 0,
        lr_base: case.lr,
        best_loss: f64::INFINITY,
        best_score: f64::NEG_INFINITY,
        no_improve: 0,
    };
    let data = Data {
        x: Features::Dense(&case.x),
        y: &case.y,
        weights: case.weights.as_deref(),
        rows: case.rows,
    };
    let result = fit_epochs(
        &cfg,
        &mut params,
        &mut slots,
        &mut counters,
        data,
        Some(data),
        &mut Silent,
    );
    Some(result.map(|_| params))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn training_never_panics_and_ok_means_finite(case in case()) {
        let outcome = std::panic::catch_unwind(|| run(&case));
        prop_assert!(outcome.is_ok(), "fit_epochs panicked");
        if let Ok(Some(Ok(params))) = outcome {
            let finite_inputs = case.x.iter().chain(&case.y).all(|v| v.is_finite() && v.abs() < 1e300)
                && case.weights.iter().flatten().all(|w| w.is_finite());
            if finite_inputs && case.lr < 1.0 {
                prop_assert!(params.iter().all(|p| p.is_finite()), "finite inputs, non-finite params");
            }
        }
    }
}
