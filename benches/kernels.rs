//! Criterion benches of the core kernels on the mnist network's shapes
//! (784 → 256 → 128 → 10, batches of 128 rows), reported as throughput.
//! Run with `cargo bench --bench kernels`; GFLOP/s = 2·m·k·n / time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fnn::linalg::{matmul, View};
use fnn::parallel::{run_with_threads, Par};

fn filled(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn gemm_shapes(c: &mut Criterion) {
    let threads_options = [
        1,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ];
    // (rows, inner, cols): the mnist net's forward products for one batch.
    for (m, k, n) in [(128, 784, 256), (128, 256, 128)] {
        let a = filled(m * k);
        let b = filled(k * n);
        let mut out = vec![0.0f32; m * n];
        let mut group = c.benchmark_group(format!("gemm_f32_{m}x{k}_by_{k}x{n}"));
        // Criterion reports "elements/s"; each element here is one FLOP.
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for threads in threads_options {
            group.bench_function(format!("{threads}_threads"), |bench| {
                bench.iter(|| {
                    run_with_threads(threads, || {
                        matmul(
                            &mut out,
                            View::rows(&a, m, k),
                            View::rows(&b, k, n),
                            false,
                            Par { threads },
                        )
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, gemm_shapes);
criterion_main!(benches);
