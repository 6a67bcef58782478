//! Forward and backward of one row block of a narrow one-hidden-layer ReLU
//! network in two kernels, instead of the general pass's five products.
//!
//! On a tiny network (iris: 4 → 16 → 3 at batch 16) each of the general
//! pass's products is a few hundred multiply-adds, and what surrounds them
//! (choosing a path, the per-thread pack of a transposed operand, checking
//! shapes, the epilogue's set-up) costs as much as their arithmetic. Here
//! the hidden layer and the logits are one kernel, the output layer's
//! weight and bias gradients another, and the first layer's gradients come
//! from [`crate::first_layer_gradient`] as on the general path.
//!
//! Every result is the chain of fused multiply-adds of the small product it
//! replaces ([`crate::small_matmul`]): each hidden value's over the inputs
//! from zero, then its bias and ReLU; each logit's over the hidden units
//! from zero (a single output's as the general pass's one-column product,
//! `small_matmul::dot_rows`), then its bias; each output-layer weight
//! gradient's over the rows from zero; each output bias gradient's over the rows from zero as
//! `s + δ` (which is `fma(1, δ, s)`). So the bits are the general pass's,
//! at any vector width.

use crate::activation::Activation;
use crate::first_layer_gradient::{self, Shape};
use crate::float::Float;
use crate::network::{Network, Rows};
use crate::small_matmul::{self, Isa};
use crate::vector::{load_lanes, store_lanes, Vector};
use crate::workspace::Workspace;

/// The widest hidden layer this path takes (wine's and diabetes's 100
/// units are faster here too; wider was not measured).
pub const MAX_HIDDEN: usize = 128;

/// The most input features this path takes: with more, the general
/// pass's register-blocked first product is as fast (breast_cancer's 30).
pub const MAX_FEATURES: usize = 16;

/// Whether a block of `rows` rows of `net` takes this path: at most
/// [`MAX_FEATURES`] inputs, one ReLU hidden layer of at most [`MAX_HIDDEN`]
/// units without a dropout mask, every product the general pass would make
/// on the small path (whose bits this path gives), and a shape the first
/// layer's fused gradient takes (which bounds the outputs, at 8).
pub fn suits(net: &Network, rows: usize, masked: bool) -> bool {
    let s = net.sizes();
    s.len() == 3
        && !masked
        && net.activations()[0] == Activation::Relu
        && s[0] <= MAX_FEATURES
        && s[1] <= MAX_HIDDEN
        && small_matmul::suits(rows, s[0], s[1])
        && small_matmul::suits(rows, s[1], s[2])
        && small_matmul::suits(s[1], rows, s[2])
        && first_layer_gradient::suits(shape(s, rows))
}

fn shape(sizes: &[usize], rows: usize) -> Shape {
    Shape {
        rows,
        features: sizes[0],
        hidden: sizes[1],
        above: sizes[2],
    }
}

/// [`Network::forward`] then [`Network::backprop`] without a penalty, on
/// a block that [`suits`]: the logits and hidden activations in `ws`, the
/// block's gradient of `Σ wᵢ ℓᵢ / weight_sum` in `ws.grad`; returns
/// `Σ wᵢ ℓᵢ`.
///
/// # Panics
/// Unless [`suits`] holds and `ws` and `batch` fit `net` (callers check
/// both, as [`Network::forward`] does).
pub fn forward_backward<T: Float>(
    net: &Network,
    params: &[T],
    ws: &mut Workspace<T>,
    batch: Rows<'_, T>,
    weight_sum: T,
) -> f64 {
    let isa = small_matmul::isa().expect("`suits` holds only with a version");
    forward_backward_on(isa, net, params, ws, batch, weight_sum)
}

/// [`forward_backward`] with instruction set `isa`'s kernels (which the CPU
/// has).
fn forward_backward_on<T: Float>(
    isa: Isa,
    net: &Network,
    params: &[T],
    ws: &mut Workspace<T>,
    batch: Rows<'_, T>,
    weight_sum: T,
) -> f64 {
    let rows = batch.rows;
    let sizes = net.sizes();
    let (d0, d1, k) = (sizes[0], sizes[1], sizes[2]);
    assert!(
        params.len() == net.n_params()
            && batch.x.len() >= rows * d0
            && batch.y.len() >= rows * k
            && batch.weights.len() >= rows
            && ws.acts[0].len() >= rows * d1
            && ws.acts[1].len() >= rows * k
            && ws.deltas[1].len() >= rows * k
            && ws.grad.len() == params.len(),
        "narrow_block: a buffer shorter than its matrix"
    );
    let (w0, b0) = (net.weight_range(0), net.bias_range(0));
    let (w1, b1) = (net.weight_range(1), net.bias_range(1));
    let (hidden, logits) = ws.acts.split_at_mut(1);
    let forward = Forward {
        x: batch.x.as_ptr(),
        w0: params[w0.clone()].as_ptr(),
        b0: params[b0.clone()].as_ptr(),
        w1: params[w1.clone()].as_ptr(),
        b1: params[b1.clone()].as_ptr(),
        hidden: hidden[0].as_mut_ptr(),
        logits: logits[0].as_mut_ptr(),
        dims: (rows, d0, d1, k),
    };
    // SAFETY: the CPU has `isa`; every pointer holds its matrix (asserted
    // above, and the parameter ranges are the network's), and the two
    // outputs are distinct buffers.
    unsafe { run(isa, forward) };
    let delta = &mut ws.deltas[1][..rows * k];
    let data_loss = net.loss().rows(
        &ws.acts[1][..rows * k],
        &batch.y[..rows * k],
        &batch.weights[..rows],
        weight_sum,
        delta,
    );
    let (grad_first, grad_output) = ws.grad.split_at_mut(w1.start);
    let (grad_w1, grad_b1) = grad_output.split_at_mut(b1.start - w1.start);
    let output = OutputGradients {
        hidden: ws.acts[0].as_ptr(),
        delta: delta.as_ptr(),
        grad_w: grad_w1.as_mut_ptr(),
        grad_b: grad_b1.as_mut_ptr(),
        dims: (rows, d1, k),
    };
    // SAFETY: as for the forward kernel; the gradients' ranges are the
    // output layer's weights and biases, at the end of the buffer.
    unsafe { run(isa, output) };
    let (grad_w0, grad_b0) = grad_first.split_at_mut(w0.len());
    first_layer_gradient::first_layer_gradient(
        grad_w0,
        &mut grad_b0[..b0.len()],
        &batch.x[..rows * d0],
        delta,
        &params[w1],
        &ws.acts[0][..rows * d1],
        shape(sizes, rows),
    );
    data_loss
}

/// A kernel of this module, compiled once per instruction set.
trait Pass: Sized {
    /// Whether the pass's pointers are to `f32` (else `f64`).
    const F32: bool;

    /// Runs on `V` (a whole vector) and `H` (half of one, for the outputs).
    ///
    /// # Safety
    /// Only from code compiled for `V`'s and `H`'s instruction sets, with
    /// the pass's pointers holding their matrices, and with `T` the type
    /// they point to (`f32` exactly when [`Pass::F32`]): the pass views its
    /// pointers as `T`s.
    unsafe fn pass<T: Float, V: Vector<T>, H: Vector<T>>(self);
}

/// Runs `pass` with `isa`'s vectors, over the type [`Pass::F32`] names.
///
/// # Safety
/// The CPU has `isa`, and the pass's pointers hold their matrices.
unsafe fn run<P: Pass>(isa: Isa, pass: P) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract.
    unsafe {
        match isa {
            Isa::Avx512 => run_avx512(pass),
            Isa::Avx2 => run_avx2(pass),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (isa, pass);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512<P: Pass>(pass: P) {
    use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};
    // SAFETY: compiled for AVX-512F, AVX2 and FMA, which the caller checked
    // the CPU has; the pointers are the caller's, and `T` is the type
    // `P::F32` names (`Float` is sealed to f32 and f64).
    unsafe {
        if P::F32 {
            pass.pass::<f32, __m512, __m256>()
        } else {
            pass.pass::<f64, __m512d, __m256d>()
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<P: Pass>(pass: P) {
    use std::arch::x86_64::{__m256, __m256d};
    // SAFETY: as in `run_avx512`, for AVX2 and FMA.
    unsafe {
        if P::F32 {
            pass.pass::<f32, __m256, __m256>()
        } else {
            pass.pass::<f64, __m256d, __m256d>()
        }
    }
}

/// The hidden layer `relu(x · w0 + b0)` and the logits `hidden · w1 + b1`
/// of `rows` rows; `dims` is `(rows, d0, d1, k)`.
struct Forward<U> {
    x: *const U,
    w0: *const U,
    b0: *const U,
    w1: *const U,
    b1: *const U,
    hidden: *mut U,
    logits: *mut U,
    dims: (usize, usize, usize, usize),
}

impl<U: Float> Pass for Forward<U> {
    const F32: bool = size_of::<U>() == 4;

    #[inline(always)]
    unsafe fn pass<T: Float, V: Vector<T>, H: Vector<T>>(self) {
        let rows = self.dims.0;
        // SAFETY: the trait's contract; each call covers rows inside `0..rows`.
        unsafe {
            let mut r = 0;
            while r + ROW_GROUP <= rows {
                self.rows::<T, V, H, ROW_GROUP>(r);
                r += ROW_GROUP;
            }
            while r < rows {
                self.rows::<T, V, H, 1>(r);
                r += 1;
            }
        }
    }
}

/// Rows computed together: independent chains of multiply-adds, so that
/// each waits on its own previous result while the others go on (one row
/// at a time was slower than the general pass; see BENCHMARKS.md,
/// "Measurements behind the code's constants").
pub const ROW_GROUP: usize = 4;

impl<U: Float> Forward<U> {
    /// Rows `r0..r0 + R` of the hidden layer, then of the logits.
    ///
    /// # Safety
    /// [`Pass::pass`]'s contract, for rows inside `0..rows`.
    #[inline(always)]
    unsafe fn rows<T: Float, V: Vector<T>, H: Vector<T>, const R: usize>(&self, r0: usize) {
        let (_, d0, d1, k) = self.dims;
        let hidden = self.hidden.cast::<T>();
        // SAFETY: the contract: `x` holds `rows × d0`, `w0` `d0 × d1`, `w1`
        // `d1 × k`, the biases theirs, `hidden` `rows × d1` and `logits`
        // `rows × k`, for rows `r0..r0 + R`.
        unsafe {
            let first = (self.w0.cast(), self.b0.cast(), true);
            layer_rows::<T, V, R>(self.x.cast(), (d0, d1), first, hidden, r0);
            if k == 1 {
                // One output: the dot products of the general pass's
                // one-column product (`small_matmul::dot_rows`), plus the bias.
                let logits = self.logits.cast::<T>();
                let sums =
                    small_matmul::dot_rows::<T, V, R>(hidden.add(r0 * d1), d1, self.w1.cast(), d1);
                let bias = *self.b1.cast::<T>();
                for (r, &sum) in sums.iter().enumerate() {
                    *logits.add(r0 + r) = sum + bias;
                }
            } else {
                let output = (self.w1.cast(), self.b1.cast(), false);
                layer_rows::<T, H, R>(hidden, (d1, k), output, self.logits.cast(), r0);
            }
        }
    }
}

/// Rows `r0..r0 + R` of a layer's outputs `input · w + b` (`dims` is its
/// `(inputs, outputs)`; `layer` its weights, biases and whether ReLU
/// follows), each the chain of multiply-adds over the inputs from zero.
///
/// # Safety
/// Only from code compiled for `V`'s instruction set, with `input` holding
/// rows `r0..r0 + R` of `inputs` values, `w` `inputs × outputs`, `b`
/// `outputs` and `out` rows `r0..r0 + R` of `outputs`.
#[inline(always)]
unsafe fn layer_rows<T: Float, V: Vector<T>, const R: usize>(
    input: *const T,
    (inputs, outputs): (usize, usize),
    (w, b, relu): (*const T, *const T, bool),
    out: *mut T,
    r0: usize,
) {
    // SAFETY: the contract; every vector lies in its row, a partial one
    // read and stored masked (`load_lanes`, `store_lanes`).
    unsafe {
        let mut c = 0;
        while c < outputs {
            let lanes = (outputs - c).min(V::LANES);
            let mut acc = [V::zero(); R];
            for p in 0..inputs {
                let wv = load_lanes::<T, V>(w.add(p * outputs + c), lanes);
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = V::fma(V::splat(*input.add((r0 + i) * inputs + p)), wv, *a);
                }
            }
            let bias = load_lanes::<T, V>(b.add(c), lanes);
            for (i, &a) in acc.iter().enumerate() {
                let v = V::add(a, bias);
                let v = if relu { v.relu() } else { v };
                store_lanes(v, out.add((r0 + i) * outputs + c), lanes);
            }
            c += lanes;
        }
    }
}

/// The output layer's gradients `hiddenᵀ · delta` (`d1 × k`) and the column
/// sums of `delta` (`k`); `dims` is `(rows, d1, k)`.
struct OutputGradients<U> {
    hidden: *const U,
    delta: *const U,
    grad_w: *mut U,
    grad_b: *mut U,
    dims: (usize, usize, usize),
}

impl<U: Float> Pass for OutputGradients<U> {
    const F32: bool = size_of::<U>() == 4;

    #[inline(always)]
    unsafe fn pass<T: Float, V: Vector<T>, H: Vector<T>>(self) {
        let (rows, _, k) = self.dims;
        let (delta, grad_b) = (self.delta.cast::<T>(), self.grad_b.cast::<T>());
        // SAFETY: the trait's contract: `hidden` holds `rows × d1`, `delta`
        // `rows × k`, `grad_w` `d1 × k` and `grad_b` `k`; each vector lies
        // in its row, a partial one read and stored masked (`load_lanes`,
        // `store_lanes`).
        unsafe {
            // Outputs' columns of the weight gradient, a vector of hidden
            // units and a few outputs at a time (the transpose's rows fill
            // the lanes), then scattered into their row-major places.
            let mut o = 0;
            while o < k {
                match k - o {
                    1 => self.columns::<T, V, 1>(o),
                    2 => self.columns::<T, V, 2>(o),
                    3 => self.columns::<T, V, 3>(o),
                    _ => self.columns::<T, V, 4>(o),
                }
                o += 4;
            }
            let mut c = 0;
            while c < k {
                let lanes = (k - c).min(H::LANES);
                let mut acc = H::zero();
                for r in 0..rows {
                    acc = H::add(acc, load_lanes::<T, H>(delta.add(r * k + c), lanes));
                }
                store_lanes(acc, grad_b.add(c), lanes);
                c += lanes;
            }
        }
    }
}

impl<U: Float> OutputGradients<U> {
    /// Columns `o0..o0 + O` of the weight gradient (`O` outputs at most
    /// what is left).
    ///
    /// # Safety
    /// [`Pass::pass`]'s contract, for outputs inside `0..k`.
    #[inline(always)]
    unsafe fn columns<T: Float, V: Vector<T>, const O: usize>(&self, o0: usize) {
        let (rows, d1, k) = self.dims;
        let (hidden, delta) = (self.hidden.cast::<T>(), self.delta.cast::<T>());
        let grad_w = self.grad_w.cast::<T>();
        // SAFETY: the contract: rows of `hidden` (`d1`) and `delta` (`k`),
        // outputs `o0..o0 + O` inside `0..k`; each vector lies in its row, a
        // partial one read masked; a whole vector is stored into a buffer of
        // `MAX_LANES >= V::LANES` values, of which `lanes` are copied out.
        unsafe {
            /// The most lanes of any vector: 16 `f32`s.
            const MAX_LANES: usize = 16;
            let mut c = 0;
            while c < d1 {
                let lanes = (d1 - c).min(V::LANES);
                let mut acc = [V::zero(); O];
                for r in 0..rows {
                    let h = load_lanes::<T, V>(hidden.add(r * d1 + c), lanes);
                    for (i, a) in acc.iter_mut().enumerate() {
                        *a = V::fma(V::splat(*delta.add(r * k + o0 + i)), h, *a);
                    }
                }
                // Lane `l` of output `i`'s vector is hidden unit `c + l`'s
                // row of the row-major gradient, column `o0 + i`.
                let mut values = [[T::zero(); MAX_LANES]; O];
                for (a, v) in acc.iter().zip(&mut values) {
                    a.store(v.as_mut_ptr());
                }
                for l in 0..lanes {
                    for (i, v) in values.iter().enumerate() {
                        *grad_w.add((c + l) * k + o0 + i) = v[l];
                    }
                }
                c += lanes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::parallel::Par;
    use crate::small_matmul::isas;

    /// The general pass's logits, hidden layer, loss and gradient bits.
    type Bits = (Vec<u64>, Vec<u64>, u64, Vec<u64>);

    fn bits<T: Float>(ws: &Workspace<T>, rows: usize, net: &Network, loss: f64) -> Bits {
        let to_bits = |v: &[T]| v.iter().map(|x| x.f64().to_bits()).collect();
        let s = net.sizes();
        (
            to_bits(&ws.acts[1][..rows * s[2]]),
            to_bits(&ws.acts[0][..rows * s[1]]),
            loss.to_bits(),
            to_bits(&ws.grad),
        )
    }

    /// Both paths on one block of `rows` rows of a `sizes` network with
    /// `loss`, uneven sample weights and a weight sum of a larger batch.
    /// `None` where the narrow path does not take the shape.
    fn both<T: Float>(
        sizes: [usize; 3],
        rows: usize,
        loss: Loss,
        isa: Isa,
    ) -> Option<(Bits, Bits)> {
        let net = Network::new(sizes.to_vec(), vec![Activation::Relu], loss).unwrap();
        if !suits(&net, rows, false) {
            return None;
        }
        let [d0, _, k] = sizes;
        let mut params = vec![T::zero(); net.n_params()];
        net.init_params(3, &mut params).unwrap();
        let x: Vec<T> = (0..rows * d0)
            .map(|i| T::of(((i * 7919) % 1000) as f64 / 400.0 - 1.2))
            .collect();
        let y: Vec<T> = (0..rows * k)
            .map(|i| match loss {
                Loss::SoftmaxLogLoss => T::of(f64::from(u8::from(i % k == (i / k) % k))),
                Loss::SigmoidLogLoss => T::of(((i * 5) % 2) as f64),
                _ => T::of((i as f64 * 0.61).sin()),
            })
            .collect();
        let w: Vec<T> = (0..rows)
            .map(|r| T::of(0.5 + (r % 3) as f64 * 0.75))
            .collect();
        let batch = Rows {
            x: &x,
            y: &y,
            weights: &w,
            rows,
        };
        let s = T::of(rows as f64 * 1.5 + 2.0);
        let mut general = Workspace::<T>::new(&net, rows, &[]).unwrap();
        net.forward(&params, &mut general, &x, rows, false, Par::SERIAL)
            .unwrap();
        let (loss_general, _) = net
            .backprop(&params, &mut general, batch, s, None, false, Par::SERIAL)
            .unwrap();
        let mut narrow = Workspace::<T>::new(&net, rows, &[]).unwrap();
        narrow.grad.fill(T::of(f64::NAN));
        let loss_narrow = forward_backward_on(isa, &net, &params, &mut narrow, batch, s);
        Some((
            bits(&general, rows, &net, loss_general),
            bits(&narrow, rows, &net, loss_narrow),
        ))
    }

    fn same_bits_as_the_general_pass<T: Float>() {
        let losses = [
            Loss::SoftmaxLogLoss,
            Loss::SquaredError,
            Loss::Huber { delta: 0.5 },
        ];
        let mut compared = 0;
        for isa in isas() {
            for (d0, d1) in [
                (1, 1),
                (4, 16),
                (3, 5),
                (13, 17),
                (16, 32),
                (13, 100),
                (10, 128),
                (2, 9),
            ] {
                for k in [1, 2, 3, 5, 8] {
                    for rows in [1, 3, 4, 7, 16, 33, 70] {
                        for loss in losses {
                            let loss = match (loss, k) {
                                (Loss::SoftmaxLogLoss, 1) => Loss::SigmoidLogLoss,
                                _ => loss,
                            };
                            let Some((general, narrow)) = both::<T>([d0, d1, k], rows, loss, isa)
                            else {
                                continue;
                            };
                            assert!(
                                general == narrow,
                                "{isa:?} {d0}-{d1}-{k}, {rows} rows, {loss:?}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        // Iris's shape, at least, on every version the CPU has.
        let iris = Network::new(vec![4, 16, 3], vec![Activation::Relu], Loss::SoftmaxLogLoss);
        assert!(isas().is_empty() || suits(&iris.unwrap(), 16, false));
        assert!(
            isas().is_empty() || compared > 500,
            "{compared} shapes compared"
        );
    }

    #[test]
    fn gives_the_general_pass_bits_in_f32() {
        same_bits_as_the_general_pass::<f32>();
    }

    #[test]
    fn gives_the_general_pass_bits_in_f64() {
        same_bits_as_the_general_pass::<f64>();
    }

    #[test]
    fn takes_blocks_up_to_the_small_products_bound_with_the_same_bits() {
        // 16 × 128 on 256 rows is 2¹⁹ multiply-adds, the small path's most.
        let net = Network::new(
            vec![16, 128, 8],
            vec![Activation::Relu],
            Loss::SoftmaxLogLoss,
        );
        let net = net.unwrap();
        let takes = isas().is_empty() || suits(&net, 256, false);
        assert!(takes && !suits(&net, 257, false));
        for isa in isas() {
            let (general, narrow) = both::<f32>([16, 128, 8], 256, Loss::SoftmaxLogLoss, isa)
                .expect("the narrow path takes 256 rows");
            assert!(general == narrow, "{isa:?}");
        }
    }

    #[test]
    fn does_not_take_dropout_deep_wide_or_many_input_networks() {
        let net = |sizes: Vec<usize>| {
            let hidden = vec![Activation::Relu; sizes.len() - 2];
            Network::new(sizes, hidden, Loss::SoftmaxLogLoss).unwrap()
        };
        assert!(!suits(&net(vec![4, 16, 3]), 16, true));
        assert!(!suits(&net(vec![4, 16, 16, 3]), 16, false));
        assert!(!suits(&net(vec![4, MAX_HIDDEN + 1, 3]), 16, false));
        assert!(!suits(&net(vec![MAX_FEATURES + 1, 16, 3]), 16, false));
        let tanh = Network::new(vec![4, 16, 3], vec![Activation::Tanh], Loss::SoftmaxLogLoss);
        assert!(!suits(&tanh.unwrap(), 16, false));
    }
}
