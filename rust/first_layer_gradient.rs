//! The first layer's weight and bias gradients straight from the delta of
//! the layer above, without storing the first layer's own delta.
//!
//! Below a ReLU layer that sits on the inputs, backpropagation makes the
//! delta `δ₀ = (δ₁ · W₁ᵀ) ⊙ relu′(a₀)` only to take `xᵀ · δ₀` and the column
//! sums of `δ₀` from it. When the layer above is narrow (an output layer of
//! a few units), `δ₀`'s product is a few multiply-adds per result and costs
//! what storing its `rows × hidden` results costs, and both gradients then
//! read it back. Here each vector of `δ₀` is made in registers and goes
//! straight into the accumulators of both gradients.
//!
//! Every result is the chain of fused multiply-adds of the small products it
//! replaces ([`crate::small_matmul`]): `δ₀`'s over `p = 0..above` from zero,
//! then the gate; each gradient's over `r = 0..rows` from zero (the bias as
//! `fma(1, δ, s)`, which is `s + δ`). So the bits are theirs, and it is only
//! used where all three products would take the small path.

use crate::float::Float;
use crate::small_matmul::{self, Isa, Operand};
use crate::vector::{load_lanes, store_lanes, unrolled, Vector};

/// The deepest `δ₁ · W₁ᵀ` product fused: each group of features makes `δ₀`
/// again, so a deep one would cost more than storing it.
const MAX_ABOVE: usize = 8;

/// The most groups of features: the first layer's weight gradient is kept in
/// registers a group of features at a time, and every group beyond the first
/// makes `δ₀` once more.
const MAX_GROUPS: usize = 2;

/// The shape of one fused product: `rows` rows of `features` inputs, a
/// `hidden`-unit first layer and an `above`-unit layer over it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub rows: usize,
    pub features: usize,
    pub hidden: usize,
    pub above: usize,
}

/// Whether [`first_layer_gradient`] computes this shape: a CPU with a
/// version of it, a shallow `δ₀` product, few enough features, and all three
/// products it replaces on the small path (whose bits it gives), none of
/// them of one column (a one-unit layer: those take `small_matmul`'s
/// interleaved dot products, not one chain).
pub(crate) fn suits(s: Shape) -> bool {
    small_matmul::isa().is_some_and(|isa| suits_on(isa, s))
}

/// [`suits`] for instruction set `isa`'s version.
fn suits_on(isa: Isa, s: Shape) -> bool {
    let most = group_max(isa);
    s.rows > 0
        && s.features > 0
        && s.hidden > 1
        && s.above > 0
        && s.above <= MAX_ABOVE
        && s.features <= MAX_GROUPS * most
        && small_matmul::suits(s.rows, s.above, s.hidden)
        && small_matmul::suits(s.features, s.rows, s.hidden)
        && small_matmul::suits(1, s.rows, s.hidden)
}

/// Features per group in `isa`'s version: the accumulators that fit in its
/// vector registers beside the ones the loop needs (32 and 16 registers).
fn group_max(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
    }
}

/// `grad_w (features × hidden) = xᵀ · δ₀` and `grad_b (hidden) = Σ_r δ₀`,
/// where `δ₀ = (delta · w_aboveᵀ) ⊙ relu′(gate)`: `x` is `rows × features`,
/// `delta` `rows × above`, `w_above` (the layer above's weights)
/// `hidden × above` and `gate` (the first layer's outputs) `rows × hidden`,
/// all row-major.
///
/// # Panics
/// Unless [`suits`] holds for `shape` and every slice holds its matrix.
pub(crate) fn first_layer_gradient<T: Float>(
    grad_w: &mut [T],
    grad_b: &mut [T],
    x: &[T],
    delta: &[T],
    w_above: &[T],
    gate: &[T],
    shape: Shape,
) {
    let isa = small_matmul::isa().expect("`suits` holds only with a version");
    first_layer_gradient_on(isa, grad_w, grad_b, x, delta, w_above, gate, shape);
}

/// [`first_layer_gradient`] with instruction set `isa`'s version (which the
/// CPU has).
#[allow(clippy::too_many_arguments)]
fn first_layer_gradient_on<T: Float>(
    isa: Isa,
    grad_w: &mut [T],
    grad_b: &mut [T],
    x: &[T],
    delta: &[T],
    w_above: &[T],
    gate: &[T],
    shape: Shape,
) {
    let Shape {
        rows,
        features,
        hidden,
        above,
    } = shape;
    assert!(
        suits_on(isa, shape),
        "first_layer_gradient on a shape it does not suit"
    );
    assert!(
        grad_w.len() >= features * hidden
            && grad_b.len() >= hidden
            && x.len() >= rows * features
            && delta.len() >= rows * above
            && w_above.len() >= hidden * above
            && gate.len() >= rows * hidden,
        "first_layer_gradient: a slice shorter than its matrix"
    );
    let wt = Operand {
        data: w_above,
        row_stride: 1,
        col_stride: above,
    };
    small_matmul::with_row_major(wt, above, hidden, |wt| {
        let job = Job {
            grad_w: grad_w.as_mut_ptr(),
            grad_b: grad_b.as_mut_ptr(),
            x: x.as_ptr(),
            delta: delta.as_ptr(),
            wt: wt.as_ptr(),
            gate: gate.as_ptr(),
            shape,
        };
        // SAFETY: the CPU has `isa` (this function's contract); every
        // pointer holds its matrix (asserted above; `wt` is `above × hidden`),
        // and `grad_w` and `grad_b` are the only writes, to distinct slices.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match isa {
                Isa::Avx512 => job.run_avx512(),
                Isa::Avx2 => job.run_avx2(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = job;
    });
}

/// One call's operands as pointers (so that the `f32`/`f64` versions view
/// them as their own type); `wt` is `w_above` transposed, `above × hidden`.
#[derive(Clone, Copy)]
struct Job<T> {
    grad_w: *mut T,
    grad_b: *mut T,
    x: *const T,
    delta: *const T,
    wt: *const T,
    gate: *const T,
    shape: Shape,
}

/// Expands to a `match` of `$g` over `1..=16` calling
/// `$self.group::<$v, G>($args)`.
macro_rules! by_group_size {
    ($self:ident, $v:ty, $g:expr, ($($arg:expr),*)) => {
        match $g {
            1 => $self.group::<$v, 1>($($arg),*),
            2 => $self.group::<$v, 2>($($arg),*),
            3 => $self.group::<$v, 3>($($arg),*),
            4 => $self.group::<$v, 4>($($arg),*),
            5 => $self.group::<$v, 5>($($arg),*),
            6 => $self.group::<$v, 6>($($arg),*),
            7 => $self.group::<$v, 7>($($arg),*),
            8 => $self.group::<$v, 8>($($arg),*),
            9 => $self.group::<$v, 9>($($arg),*),
            10 => $self.group::<$v, 10>($($arg),*),
            11 => $self.group::<$v, 11>($($arg),*),
            12 => $self.group::<$v, 12>($($arg),*),
            13 => $self.group::<$v, 13>($($arg),*),
            14 => $self.group::<$v, 14>($($arg),*),
            15 => $self.group::<$v, 15>($($arg),*),
            16 => $self.group::<$v, 16>($($arg),*),
            _ => unreachable!("groups hold at most 16 features"),
        }
    };
}

impl<T: Float> Job<T> {
    /// All column vectors of the result: whole `V`s, then the columns left
    /// on one half-width `H` where it holds them (as the small products
    /// split their columns; the bits do not depend on the width).
    ///
    /// # Safety
    /// Only from code compiled for `V`'s and `H`'s instruction sets, on a
    /// job whose pointers hold their matrices, with at most `most` features
    /// in a group (`V`'s registers hold `most` accumulators).
    #[inline(always)]
    unsafe fn run<V: Vector<T>, H: Vector<T>>(self, most: usize) {
        let Shape {
            features, hidden, ..
        } = self.shape;
        let groups = features.div_ceil(most);
        // SAFETY: this function's contract; each column vector lies in
        // `0..hidden`, a partial one read masked, and each group in
        // `0..features` with at most `most <= 16` features.
        unsafe {
            for g in 0..groups {
                let (f0, f1) = (g * features / groups, (g + 1) * features / groups);
                let mut c = 0;
                while c < hidden {
                    let left = hidden - c;
                    let with_bias = g == 0;
                    if left >= V::LANES {
                        by_group_size!(self, V, f1 - f0, (c, V::LANES, f0, with_bias));
                        c += V::LANES;
                    } else if left <= H::LANES {
                        by_group_size!(self, H, f1 - f0, (c, left, f0, with_bias));
                        c = hidden;
                    } else {
                        by_group_size!(self, V, f1 - f0, (c, left, f0, with_bias));
                        c = hidden;
                    }
                }
            }
        }
    }

    /// Columns `c..c + lanes` of both gradients, for features
    /// `f0..f0 + G`: one pass over the rows, `G` weight-gradient
    /// accumulators (and the bias's, `with_bias`) in registers. Fewer
    /// `lanes` than a vector holds are read masked and stored through a buffer.
    ///
    /// # Safety
    /// As [`Job::run`], for columns inside `0..hidden` and features inside
    /// `0..features`.
    #[inline(always)]
    unsafe fn group<V: Vector<T>, const G: usize>(
        self,
        c: usize,
        lanes: usize,
        f0: usize,
        with_bias: bool,
    ) {
        let Shape {
            rows,
            features,
            hidden,
            above,
        } = self.shape;
        // SAFETY: the caller's contract: rows `0..rows` of `x` (features
        // `f0..f0 + G`), `delta` (`0..above`) and `gate` (columns
        // `c..c + lanes`), and `wt`'s `above` rows, are inside their
        // matrices; a partial vector reads and writes only its `lanes`.
        unsafe {
            let one = V::splat(T::one());
            let mut acc = [V::zero(); G];
            let mut bias = V::zero();
            for r in 0..rows {
                let d_row = self.delta.add(r * above);
                let mut d = V::zero();
                for p in 0..above {
                    d = V::fma(
                        V::splat(*d_row.add(p)),
                        load_lanes::<T, V>(self.wt.add(p * hidden + c), lanes),
                        d,
                    );
                }
                d = d.relu_gate(load_lanes::<T, V>(self.gate.add(r * hidden + c), lanes));
                if with_bias {
                    bias = V::fma(one, d, bias);
                }
                let x_row = self.x.add(r * features + f0);
                // Unrolled (see `unrolled`): the accumulators stay in registers.
                unrolled!(G, f, {
                    acc[f] = V::fma(V::splat(*x_row.add(f)), d, acc[f]);
                });
            }
            unrolled!(G, f, {
                store_lanes(acc[f], self.grad_w.add((f0 + f) * hidden + c), lanes);
            });
            if with_bias {
                store_lanes(bias, self.grad_b.add(c), lanes);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl<T: Float> Job<T> {
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn run_avx512(self) {
        // SAFETY: compiled for AVX-512F, AVX2 and FMA, what `run` over 512-
        // and 256-bit vectors uses, which the caller checked the CPU has;
        // `Float` is sealed, so a 4-byte `T` is f32 and an 8-byte one f64.
        unsafe {
            use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};
            if size_of::<T>() == 4 {
                self.cast::<f32>()
                    .run::<__m512, __m256>(group_max(Isa::Avx512))
            } else {
                self.cast::<f64>()
                    .run::<__m512d, __m256d>(group_max(Isa::Avx512))
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(self) {
        // SAFETY: as in `run_avx512`, for AVX2 and FMA and 256-bit vectors.
        unsafe {
            use std::arch::x86_64::{__m256, __m256d};
            if size_of::<T>() == 4 {
                self.cast::<f32>()
                    .run::<__m256, __m256>(group_max(Isa::Avx2))
            } else {
                self.cast::<f64>()
                    .run::<__m256d, __m256d>(group_max(Isa::Avx2))
            }
        }
    }

    /// This job over `U`, the same type as `T` (the caller checks the size;
    /// `Float` is sealed to f32 and f64).
    fn cast<U: Float>(self) -> Job<U> {
        debug_assert_eq!(size_of::<T>(), size_of::<U>());
        Job {
            grad_w: self.grad_w.cast(),
            grad_b: self.grad_b.cast(),
            x: self.x.cast(),
            delta: self.delta.cast(),
            wt: self.wt.cast(),
            gate: self.gate.cast(),
            shape: self.shape,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{column_sums, matmul, matmul_then, View};
    use crate::parallel::Par;
    use crate::small_matmul::{isas, Epilogue};

    /// Values of both signs and magnitudes, with −0 and (where `special`)
    /// NaN among them.
    fn values<T: Float>(len: usize, salt: usize, special: bool) -> Vec<T> {
        (0..len)
            .map(|i| match (i * 31 + salt) % 23 {
                0 => T::of(-0.0),
                1 if special => T::nan(),
                r => T::of(
                    ((i * 7919 + salt * 104_729) % 997) as f64 / 512.0 - 0.97 + r as f64 * 1e-9,
                ),
            })
            .collect()
    }

    fn bits<T: Float>(v: &[T]) -> Vec<u64> {
        v.iter().map(|x| x.f64().to_bits()).collect()
    }

    /// The three small products the kernel replaces, as backprop ran them.
    fn reference<T: Float>(
        x: &[T],
        delta: &[T],
        w: &[T],
        gate: &[T],
        s: Shape,
    ) -> (Vec<T>, Vec<T>) {
        let par = Par { threads: 1 };
        let mut d0 = vec![T::zero(); s.rows * s.hidden];
        let epilogue = Epilogue {
            relu_gate: Some(gate),
            ..Epilogue::NONE
        };
        matmul_then(
            &mut d0,
            View::rows(delta, s.rows, s.above),
            View::transposed(w, s.hidden, s.above),
            epilogue,
            par,
        )
        .expect("delta product");
        let mut grad_w = vec![T::zero(); s.features * s.hidden];
        matmul(
            &mut grad_w,
            View::transposed(x, s.rows, s.features),
            View::rows(&d0, s.rows, s.hidden),
            false,
            par,
        )
        .expect("weight gradient");
        let mut grad_b = vec![T::zero(); s.hidden];
        column_sums(&mut grad_b, &d0, s.hidden);
        (grad_w, grad_b)
    }

    fn gives_the_bits_of_the_products<T: Float>() {
        let mut checked = 0;
        for isa in isas() {
            for rows in [1, 2, 7, 66] {
                for features in [1, 4, 8, 9, 13, 16, 17, 30, 32] {
                    for hidden in [1, 3, 4, 5, 8, 9, 15, 16, 17, 33, 100] {
                        for above in [1, 2, 3, 8] {
                            let s = Shape {
                                rows,
                                features,
                                hidden,
                                above,
                            };
                            if !suits_on(isa, s) {
                                continue;
                            }
                            let x = values::<T>(rows * features, 1, true);
                            let delta = values::<T>(rows * above, 2, false);
                            let w = values::<T>(hidden * above, 3, false);
                            let gate = values::<T>(rows * hidden, 4, true);
                            let (want_w, want_b) = reference(&x, &delta, &w, &gate, s);
                            // Stale values, which every result must overwrite.
                            let mut grad_w = vec![T::of(7.0); features * hidden];
                            let mut grad_b = vec![T::of(7.0); hidden];
                            first_layer_gradient_on(
                                isa,
                                &mut grad_w,
                                &mut grad_b,
                                &x,
                                &delta,
                                &w,
                                &gate,
                                s,
                            );
                            assert_eq!(bits(&grad_w), bits(&want_w), "{isa:?} {s:?} weights");
                            assert_eq!(bits(&grad_b), bits(&want_b), "{isa:?} {s:?} biases");
                            checked += 1;
                        }
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        assert!(
            checked > 100 || isas().is_empty(),
            "only {checked} shapes checked"
        );
    }

    #[test]
    fn f32_gradients_are_the_bits_of_the_three_products() {
        gives_the_bits_of_the_products::<f32>();
    }

    #[test]
    fn f64_gradients_are_the_bits_of_the_three_products() {
        gives_the_bits_of_the_products::<f64>();
    }

    #[test]
    fn deep_deltas_and_many_features_are_left_to_the_products() {
        let shape = |features, above| Shape {
            rows: 66,
            features,
            hidden: 100,
            above,
        };
        for isa in isas() {
            assert!(suits_on(isa, shape(13, 3)));
            assert!(!suits_on(isa, shape(13, MAX_ABOVE + 1)));
            assert!(!suits_on(isa, shape(2 * group_max(isa) + 1, 3)));
        }
        // Beyond the small path, whose bits the kernel gives.
        assert!(!suits(Shape {
            rows: 4096,
            features: 13,
            hidden: 100,
            above: 3,
        }));
    }
}
