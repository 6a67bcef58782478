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
    /// Train on the CSR form of `x`, with this added to its last column index
    /// (0 keeps it valid).
    sparse: Option<i64>,
    alpha: f64,
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
                prop_oneof![Just(1e-2), Just(1e3), Just(0.0), Just(-1.0), Just(f64::NAN)],
                (
                    prop::option::of(prop_oneof![4 => Just(0i64), 1 => Just(7), 1 => Just(-100)]),
                    prop_oneof![4 => Just(1e-3), 1 => Just(-1.0), 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)],
                ),
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
                (sparse, alpha),
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
                    sparse,
                    alpha,
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
        alpha: case.alpha,
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
    let mut counters = Counters::start(case.lr);
    // The CSR form of x: non-zeros row by row, the last index shifted.
    let d0 = case.sizes[0];
    let (mut indptr, mut indices, mut values) = (vec![0i64], vec![], vec![]);
    for row in case.x.chunks(d0) {
        for (j, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
            indices.push(j as i64);
            values.push(v);
        }
        indptr.push(indices.len() as i64);
    }
    if let (Some(shift), Some(last)) = (case.sparse, indices.last_mut()) {
        *last += shift;
    }
    let x = match case.sparse {
        Some(_) => Features::Csr {
            indptr: &indptr,
            indices: &indices,
            values: &values,
        },
        None => Features::Dense(&case.x),
    };
    let data = Data {
        x,
        y: &case.y,
        weights: case.weights.as_deref(),
        rows: case.rows,
    };
    let result = fit_epochs(
        &cfg,
        &mut params,
        &mut slots[..],
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

    #[test]
    fn training_on_csr_input_is_training_on_the_dense_matrix(case in case()) {
        let csr = Case { sparse: Some(0), ..case.clone() };
        let dense = Case { sparse: None, ..case };
        let (a, b) = (run(&csr), run(&dense));
        if csr.x.len() == csr.rows * csr.sizes[0] {
            match (a, b) {
                (Some(Ok(p)), Some(Ok(q))) => {
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    prop_assert_eq!(bits(&p), bits(&q));
                }
                (a, b) => prop_assert_eq!(a.map(|r| r.is_ok()), b.map(|r| r.is_ok())),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Every public entry point of the core answers inconsistent shapes with `Err`.

mod inconsistent_shapes {
    use crate::activation::Activation;
    use crate::dropout::Dropout;
    use crate::features::Features;
    use crate::linalg::{matmul, View};
    use crate::loss::Loss;
    use crate::network::{Network, Rows};
    use crate::optim::testing::step;
    use crate::optim::{Optimizer, Schedule};
    use crate::parallel::Par;
    use crate::train::{fit_epochs, Counters, Data, Score, Silent, Stopping, TrainConfig};
    use crate::workspace::Workspace;
    use crate::FnnError;

    fn net() -> Network {
        // 3 -> 4 -> 2: 3*4 + 4 + 4*2 + 2 = 26 parameters.
        Network::new(vec![3, 4, 2], vec![Activation::Relu], Loss::SoftmaxLogLoss).unwrap()
    }

    fn is_shape_or_config<T: std::fmt::Debug>(r: crate::error::Result<T>) -> bool {
        matches!(r, Err(FnnError::Shape(_)) | Err(FnnError::Config(_)))
    }

    #[test]
    fn network_new_rejects_zero_sizes_missing_activations_and_overflow() {
        let l = Loss::SquaredError;
        assert!(is_shape_or_config(Network::new(vec![3], vec![], l)));
        assert!(is_shape_or_config(Network::new(
            vec![3, 0, 2],
            vec![Activation::Relu],
            l
        )));
        assert!(is_shape_or_config(Network::new(vec![3, 4, 2], vec![], l)));
        assert!(is_shape_or_config(Network::new(
            vec![usize::MAX, 2, 1],
            vec![Activation::Relu],
            l
        )));
    }

    #[test]
    fn init_params_rejects_a_buffer_of_the_wrong_length() {
        let net = net();
        assert_eq!(net.n_params(), 26);
        for len in [0, 25, 27] {
            let mut params = vec![0.0f64; len];
            assert!(
                is_shape_or_config(net.init_params(1, &mut params)),
                "len {len}"
            );
        }
    }

    #[test]
    fn forward_and_dropout_reject_wrong_params_workspace_input_and_rates() {
        let net = net();
        let params = vec![0.1f64; 26];
        let x = vec![1.0f64; 3 * 5];
        let mut ws = Workspace::<f64>::new(&net, 5, &[]).unwrap();
        let par = Par::SERIAL;
        assert!(net.forward(&params, &mut ws, &x, 5, false, par).is_ok());
        assert!(is_shape_or_config(net.forward(
            &params[..25],
            &mut ws,
            &x,
            5,
            false,
            par
        )));
        assert!(is_shape_or_config(
            net.forward(&params, &mut ws, &x, 6, false, par)
        ));
        assert!(is_shape_or_config(net.forward(
            &params,
            &mut ws,
            &x[..14],
            5,
            false,
            par
        )));
        // A workspace made for another network.
        let other =
            Network::new(vec![3, 9, 2], vec![Activation::Relu], Loss::SquaredError).unwrap();
        let mut foreign = Workspace::<f64>::new(&other, 5, &[]).unwrap();
        assert!(is_shape_or_config(net.forward(
            &params,
            &mut foreign,
            &x,
            5,
            false,
            par
        )));
        // Dropout without dropout buffers, and dropout rates out of range.
        let rates = [0.5];
        let dropout = Dropout {
            first_row: 0,
            rates: &rates,
            seed: 0,
            step: 0,
        };
        assert!(is_shape_or_config(dropout.draw_masks(&mut ws, 5, par)));
        for bad in [1.0, -0.1, f64::NAN] {
            let rates = [bad];
            let mut with_buffers = Workspace::<f64>::new(&net, 5, &[0.5]).unwrap();
            let d = Dropout {
                rates: &rates,
                ..dropout
            };
            assert!(is_shape_or_config(d.draw_masks(&mut with_buffers, 5, par)));
        }
    }

    #[test]
    fn forward_rows_rejects_rows_outside_the_input_and_malformed_csr() {
        let net = net();
        let params = vec![0.1f64; 26];
        let mut ws = Workspace::<f64>::new(&net, 4, &[]).unwrap();
        let dense = vec![1.0f64; 3 * 4];
        let x = Features::Dense(&dense);
        assert!(net
            .forward_rows(&params, &mut ws, &x, 1, 3, Par::SERIAL)
            .is_ok());
        let csr = |indptr: &'static [i64], indices: &'static [i64]| Features::Csr {
            indptr,
            indices,
            values: &[1.0f64],
        };
        // (input, first row, rows): past the end, an overflowing start, a
        // column outside the network's inputs, an indptr past the values, a
        // negative indptr.
        let rejected = [
            (Features::Dense(&dense), 2, 3),
            (Features::Dense(&dense), usize::MAX, 2),
            (csr(&[0, 1], &[7]), 0, 1),
            (csr(&[0, 5], &[0]), 0, 1),
            (csr(&[-1, 0], &[0]), 0, 1),
        ];
        for (input, start, rows) in &rejected {
            let result = net.forward_rows(&params, &mut ws, input, *start, *rows, Par::SERIAL);
            assert!(is_shape_or_config(result), "start {start}, rows {rows}");
        }
        let empty: Features<'_, f64> = Features::Csr {
            indptr: &[],
            indices: &[],
            values: &[],
        };
        assert!(net
            .forward_rows(&params, &mut ws, &empty, 0, 0, Par::SERIAL)
            .is_ok());
    }

    fn rows<'a>(x: &'a [f64], y: &'a [f64], weights: &'a [f64], rows: usize) -> Rows<'a, f64> {
        Rows {
            x,
            y,
            weights,
            rows,
        }
    }

    #[test]
    fn backward_rejects_wrong_params_rows_input_workspace_and_penalties() {
        let net = net();
        let params = vec![0.1f64; 26];
        let x = vec![1.0f64; 3 * 5];
        let y = vec![0.5f64; 2 * 5];
        let mut w = vec![1.0f64; 5];
        let mut ws = Workspace::<f64>::new(&net, 5, &[]).unwrap();
        let par = Par::SERIAL;
        net.forward(&params, &mut ws, &x, 5, false, par).unwrap();
        assert!(net
            .backward(&params, &mut ws, rows(&x, &y, &w, 5), 0.0, 0.0, false, par)
            .is_ok());
        let wrong: [(&[f64], Rows<'_, f64>); 5] = [
            (&params[..20], rows(&x, &y, &w, 5)),
            (&params, rows(&x, &y, &w, 9)),
            (&params, rows(&x[..3], &y, &w, 5)),
            (&params, rows(&x, &y[..4], &w, 5)),
            (&params, rows(&x, &y, &w[..2], 5)),
        ];
        for (i, (p, batch)) in wrong.into_iter().enumerate() {
            let result = net.backward(p, &mut ws, batch, 0.0, 0.0, false, par);
            assert!(is_shape_or_config(result), "case {i}");
        }
        for (alpha, l1) in [(-1.0, 0.0), (f64::NAN, 0.0), (0.0, f64::INFINITY)] {
            let batch = rows(&x, &y, &w, 5);
            assert!(is_shape_or_config(
                net.backward(&params, &mut ws, batch, alpha, l1, false, par)
            ));
        }
        let other = Network::new(vec![3, 2], vec![], Loss::SquaredError).unwrap();
        let mut foreign = Workspace::<f64>::new(&other, 5, &[]).unwrap();
        let batch = rows(&x, &y, &w, 5);
        assert!(is_shape_or_config(net.backward(
            &params,
            &mut foreign,
            batch,
            0.0,
            0.0,
            false,
            par
        )));
        // Weights summing to zero (or NaN) are an error, not a division by zero.
        for bad in [0.0, f64::NAN] {
            w.fill(bad);
            let batch = rows(&x, &y, &w, 5);
            assert!(is_shape_or_config(
                net.backward(&params, &mut ws, batch, 0.0, 0.0, false, par)
            ));
        }
    }

    #[test]
    fn optimizer_steps_reject_mismatched_buffers_ranges_learning_rates_and_step_zero() {
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: true,
            weight_decay: 0.1,
        };
        let sgd = Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
        };
        for opt in [adam, sgd] {
            let mut p = vec![1.0f64; 4];
            let mut slots = [0.0f64; 12];
            let g = [0.1; 4];
            assert!(step(opt, &mut p, &g, &mut slots, (0.1, 1), &[0..4]).is_ok());
            let short_grad = step(opt, &mut p, &g[..3], &mut slots, (0.1, 1), &[]);
            assert!(is_shape_or_config(short_grad));
            let short_state = step(opt, &mut p, &g, &mut slots[..11], (0.1, 1), &[]);
            assert!(is_shape_or_config(short_state));
            let outside = step(opt, &mut p, &g, &mut slots, (0.1, 1), &[2..5]);
            assert!(is_shape_or_config(outside));
            #[allow(clippy::reversed_empty_ranges)]
            let reversed = step(opt, &mut p, &g, &mut slots, (0.1, 1), &[3..1]);
            assert!(is_shape_or_config(reversed));
            for lr in [-0.1, f64::NAN, f64::INFINITY] {
                assert!(is_shape_or_config(step(
                    opt,
                    &mut p,
                    &g,
                    &mut slots,
                    (lr, 1),
                    &[]
                )));
            }
            // Step 0 would divide by zero in Adam's bias correction.
            assert!(is_shape_or_config(step(
                opt,
                &mut p,
                &g,
                &mut slots,
                (0.1, 0),
                &[]
            )));
            let (mut a, mut b, mut c) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 3]);
            let mut apart = [&mut a[..], &mut b[..], &mut c[..]];
            let one_short = opt.update(&mut p, &g, &mut apart, 0.1, 1, &[], None, Par::SERIAL);
            assert!(is_shape_or_config(one_short));
            assert_eq!(p, opt_result_unchanged_by_errors(opt));
        }
    }

    /// The parameters after the one successful step above: errors change nothing.
    fn opt_result_unchanged_by_errors(opt: Optimizer) -> Vec<f64> {
        let mut p = vec![1.0f64; 4];
        let mut slots = [0.0f64; 12];
        step(opt, &mut p, &[0.1; 4], &mut slots, (0.1, 1), &[0..4]).unwrap();
        p
    }

    #[test]
    fn matmul_rejects_views_outside_their_slices_and_short_destinations() {
        let a = vec![1.0f64; 6];
        let mut dst = vec![0.0f64; 4];
        let ok = matmul(
            &mut dst,
            View::rows(&a, 2, 3),
            View::transposed(&a, 2, 3),
            false,
            Par::SERIAL,
        );
        assert!(ok.is_ok());
        assert_eq!(dst, vec![3.0; 4]);
        let mut short = vec![0.0f64; 3];
        assert!(is_shape_or_config(matmul(
            &mut short,
            View::rows(&a, 2, 3),
            View::rows(&a, 3, 2),
            false,
            Par::SERIAL
        )));
        assert!(is_shape_or_config(matmul(
            &mut dst,
            View::rows(&a, 3, 3),
            View::rows(&a, 3, 2),
            false,
            Par::SERIAL
        )));
        assert!(is_shape_or_config(matmul(
            &mut dst,
            View::rows(&a, 2, 3),
            View::rows(&a, 2, 2),
            false,
            Par::SERIAL
        )));
    }

    #[test]
    fn features_check_rejects_every_malformation_and_overflow() {
        let dense = [1.0f64; 6];
        assert!(Features::Dense(&dense).check(2, 3, "X").is_ok());
        assert!(Features::Dense(&dense).check(3, 3, "X").is_err());
        assert!(Features::Dense(&dense).check(usize::MAX, 2, "X").is_err());
        let csr = |indptr: &'static [i64], indices: &'static [i64]| Features::Csr {
            indptr,
            indices,
            values: &[1.0f64, 2.0][..indices.len()],
        };
        assert!(csr(&[0, 1, 2], &[0, 2]).check(2, 3, "X").is_ok());
        for (indptr, indices) in [
            (&[1, 1, 2][..], &[0, 2][..]), // does not start at 0
            (&[0, 1, 3], &[0, 2]),         // ends past the values
            (&[0, 2, 1], &[0, 2]),         // decreasing
            (&[0, 1, 2], &[0, 3]),         // column out of range
            (&[0, 1, 2], &[-1, 0]),        // negative column
            (&[0, 2], &[0, 1]),            // wrong row count
            (&[], &[]),                    // no indptr at all
        ] {
            assert!(
                csr(indptr, indices).check(2, 3, "X").is_err(),
                "{indptr:?} {indices:?}"
            );
        }
        assert!(csr(&[0, 1, 2], &[0, 2]).check(usize::MAX, 3, "X").is_err());
    }

    #[test]
    fn fit_epochs_rejects_every_inconsistent_buffer() {
        let cfg = TrainConfig {
            net: net(),
            dropout: vec![],
            alpha: 0.0,
            l1: 0.0,
            optimizer: Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            schedule: Schedule::Constant,
            batch_size: 2,
            shuffle: true,
            seed: 0,
            max_epochs: 1,
            tol: 0.0,
            n_iter_no_change: 1,
            stopping: Stopping::None,
            restore_best: false,
            score: Score::Accuracy,
            threads: 1,
        };
        let counters = Counters::start(0.1);
        let x = [0.5f64; 12];
        let y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let w = [1.0f64; 4];
        let data = Data {
            x: Features::Dense(&x),
            y: &y,
            weights: Some(&w),
            rows: 4,
        };
        let run =
            |cfg: &TrainConfig, params_len: usize, slots_len: usize, train: Data<'_, f64>, val| {
                let mut params = vec![0.1f64; params_len];
                let mut slots = vec![0.0f64; slots_len];
                let mut c = counters;
                fit_epochs(
                    cfg,
                    &mut params,
                    &mut slots[..],
                    &mut c,
                    train,
                    val,
                    &mut Silent,
                )
            };
        assert!(run(&cfg, 26, 78, data, Some(data)).is_ok());
        assert!(is_shape_or_config(run(&cfg, 25, 78, data, None)));
        assert!(is_shape_or_config(run(&cfg, 26, 77, data, None)));
        assert!(is_shape_or_config(run(
            &cfg,
            26,
            78,
            Data { rows: 3, ..data },
            None
        )));
        assert!(is_shape_or_config(run(
            &cfg,
            26,
            78,
            Data { y: &y[..6], ..data },
            None
        )));
        assert!(is_shape_or_config(run(
            &cfg,
            26,
            78,
            Data {
                weights: Some(&w[..3]),
                ..data
            },
            None
        )));
        let negative = [1.0, -1.0, 1.0, 1.0];
        assert!(is_shape_or_config(run(
            &cfg,
            26,
            78,
            Data {
                weights: Some(&negative),
                ..data
            },
            None
        )));
        let empty = Data {
            x: Features::Dense(&[]),
            y: &[],
            weights: None,
            rows: 0,
        };
        assert!(is_shape_or_config(run(&cfg, 26, 78, empty, None)));
        assert!(is_shape_or_config(run(
            &cfg,
            26,
            78,
            data,
            Some(Data { rows: 5, ..data })
        )));
        let zero_weights = [0.0f64; 4];
        let val = Data {
            weights: Some(&zero_weights),
            ..data
        };
        assert!(is_shape_or_config(run(&cfg, 26, 78, data, Some(val))));
        let with_dropout = TrainConfig {
            dropout: vec![0.5, 0.5],
            ..cfg.clone()
        };
        assert!(is_shape_or_config(run(&with_dropout, 26, 78, data, None)));
        let stops_on_score = TrainConfig {
            stopping: Stopping::ValScore,
            ..cfg.clone()
        };
        assert!(is_shape_or_config(run(&stops_on_score, 26, 78, data, None)));
        let bad_penalty = TrainConfig {
            alpha: f64::NAN,
            ..cfg.clone()
        };
        assert!(is_shape_or_config(run(&bad_penalty, 26, 78, data, None)));
    }
}
