//! The inference workspace (`Workspace::for_inference`): the same logits as
//! the training workspace, sparse rows densified on first use, and no
//! backward pass through it.

use crate::activation::Activation;
use crate::features::Features;
use crate::loss::Loss;
use crate::network::{Network, Rows};
use crate::parallel::Par;
use crate::workspace::Workspace;
use crate::FnnError;

/// 5 -> 7 -> 6 -> 3 with two hidden activations, its parameters and 9 rows.
fn setup() -> (Network, Vec<f32>, Vec<f32>) {
    let net = Network::new(
        vec![5, 7, 6, 3],
        vec![Activation::Relu, Activation::Tanh],
        Loss::SoftmaxLogLoss,
    )
    .unwrap();
    let mut params = vec![0.0f32; net.n_params()];
    net.init_params(7, &mut params).unwrap();
    // Some exact zeros, so the CSR form below stores fewer values than the dense one.
    let x = (0..9 * 5)
        .map(|i| {
            if i % 3 == 0 {
                0.0
            } else {
                (i % 11) as f32 / 4.0 - 1.2
            }
        })
        .collect();
    (net, params, x)
}

#[test]
fn inference_workspace_gives_the_training_workspace_logits_bit_for_bit() {
    let (net, params, x) = setup();
    for rows in [1, 9] {
        let mut training = Workspace::<f32>::new(&net, rows, &[]).unwrap();
        let mut inference = Workspace::<f32>::for_inference(&net, rows).unwrap();
        net.forward(&params, &mut training, &x, rows, false, Par::SERIAL)
            .unwrap();
        net.forward(&params, &mut inference, &x, rows, false, Par::SERIAL)
            .unwrap();
        let expected = training.logits(rows, &net);
        assert!(expected.iter().any(|&v| v != 0.0));
        assert_eq!(inference.logits(rows, &net), expected, "{rows} rows");
    }
}

#[test]
fn inference_workspace_densifies_sparse_rows_like_the_dense_ones() {
    let (net, params, x) = setup();
    let (mut indptr, mut indices, mut values) = (vec![0i64], vec![], vec![]);
    for row in x.chunks_exact(5) {
        for (j, &v) in row.iter().enumerate().filter(|(_, &v)| v != 0.0) {
            indices.push(j as i64);
            values.push(v);
        }
        indptr.push(values.len() as i64);
    }
    let csr = Features::Csr {
        indptr: &indptr,
        indices: &indices,
        values: &values,
    };
    let dense = Features::Dense(&x);
    let mut from_dense = Workspace::<f32>::for_inference(&net, 4).unwrap();
    let mut from_csr = Workspace::<f32>::for_inference(&net, 4).unwrap();
    // Chunks of 4, 4 and 1 rows: the dense buffer made for the first chunk serves the rest.
    for (start, rows) in [(0, 4), (4, 4), (8, 1)] {
        net.forward_rows(&params, &mut from_dense, &dense, start, rows, Par::SERIAL)
            .unwrap();
        net.forward_rows(&params, &mut from_csr, &csr, start, rows, Par::SERIAL)
            .unwrap();
        assert_eq!(
            from_csr.logits(rows, &net),
            from_dense.logits(rows, &net),
            "rows {start}..{}",
            start + rows
        );
    }
}

#[test]
fn backward_through_an_inference_workspace_is_an_error_not_a_panic() {
    let (net, params, x) = setup();
    let mut ws = Workspace::<f32>::for_inference(&net, 9).unwrap();
    net.forward(&params, &mut ws, &x, 9, false, Par::SERIAL)
        .unwrap();
    let (y, w) = (vec![0.0f32; 9 * net.n_outputs()], vec![1.0f32; 9]);
    let batch = Rows {
        x: &x,
        y: &y,
        weights: &w,
        rows: 9,
    };
    let result = net.backward(&params, &mut ws, batch, 1e-4, 0.0, false, Par::SERIAL);
    assert!(matches!(result, Err(FnnError::Shape(_))), "{result:?}");
}
