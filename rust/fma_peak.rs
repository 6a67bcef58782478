//! The machine's float32 FMA peak, measured: independent chains of fused
//! multiply-adds kept in registers (no memory traffic) on every thread at
//! once. A kernel's speed is best read as a fraction of it, and a nominal
//! peak (cores × clock × FMA units × lanes) can be twice what a CPU gives:
//! Zen 4's 512-bit FMAs take both of its 256-bit pipes.
//!
//! Written in assembly, so the instructions are exactly the ones named and no
//! optimiser can fold or reorder the chains. Only where every vector register
//! is caller-saved (x86-64 outside Windows, whose ABI keeps xmm6–15 across
//! calls); elsewhere no width runs.

use std::hint::black_box;
use std::time::Instant;

/// Independent accumulators (the 12 registers each loop spells out): enough
/// to cover an FMA latency of 4 cycles on two ports.
pub const CHAINS: usize = 12;

/// Loop trips per call of a width's loop.
pub const TRIPS: usize = 1 << 20;

/// A vector width this CPU has an FMA loop for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 256-bit FMAs (AVX2 + FMA): 8 float32 lanes.
    Avx2,
    /// 512-bit FMAs (AVX-512F): 16 float32 lanes.
    Avx512,
}

impl Width {
    /// float32 lanes per vector.
    pub fn lanes(self) -> usize {
        match self {
            Width::Avx2 => 8,
            Width::Avx512 => 16,
        }
    }

    /// The name criterion's groups use.
    pub fn name(self) -> &'static str {
        match self {
            Width::Avx2 => "avx2_256bit",
            Width::Avx512 => "avx512_512bit",
        }
    }

    /// FLOPs of one [`Width::run`].
    pub fn flops(self) -> u64 {
        (2 * CHAINS * self.lanes() * TRIPS) as u64
    }

    /// One call of this width's loop, [`TRIPS`] trips of [`CHAINS`] FMAs,
    /// where the CPU has the instructions; returns whether it ran.
    pub fn run(self) -> bool {
        if !widths().contains(&self) {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(windows)))]
        match self {
            // SAFETY: `widths` checked that the CPU has AVX2 and FMA.
            Width::Avx2 => unsafe { asm::fma_256() },
            // SAFETY: `widths` checked that the CPU has AVX-512F.
            Width::Avx512 => unsafe { asm::fma_512() },
        }
        true
    }
}

/// The widths this CPU runs, narrowest first (none off x86-64 or without FMA).
pub fn widths() -> Vec<Width> {
    let mut out = Vec::new();
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            out.push(Width::Avx2);
            if std::arch::is_x86_feature_detected!("avx512f") {
                out.push(Width::Avx512);
            }
        }
    }
    out
}

/// The float32 peak in GFLOP/s of `threads` threads each running the widest
/// loop at once: the best of `repetitions` timings (the peak is a bound, so
/// the fastest is the truest). `None` where no width runs, or for no threads.
pub fn gflops(threads: usize, repetitions: usize) -> Option<f64> {
    let width = *widths().last()?;
    if threads == 0 {
        return None;
    }
    let best = (0..repetitions.max(1))
        .map(|_| {
            // Timed around the spawns: the main thread may be descheduled
            // after a barrier's release for longer than a whole run, so
            // timing from one measured too short a run under load.
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| black_box(width.run()));
                }
            });
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    Some(width.flops() as f64 * threads as f64 / best / 1e9)
}

#[cfg(all(target_arch = "x86_64", not(windows)))]
mod asm {
    use std::hint::black_box;

    use super::TRIPS;

    /// `acc = acc·a + b` on 12 vector registers named by `$r` ("ymm" or
    /// "zmm"), `TRIPS` times; registers 12 and 13 hold `a` and `b`.
    macro_rules! fma_loop {
        ($r:literal) => {{
            let (a, b) = (black_box(0.999_99f32), black_box(1e-6f32));
            // SAFETY: the caller checked the instruction set; the loop reads
            // `a` and `b` and writes only rcx and vector registers 0–13, which
            // are declared: `clobber_abi("C")` marks every vector register
            // clobbered on the System V ABI this module is compiled for.
            unsafe {
                std::arch::asm!(
                    concat!("vbroadcastss ", $r, "12, dword ptr [{a}]"),
                    concat!("vbroadcastss ", $r, "13, dword ptr [{b}]"),
                    concat!("vmovaps ", $r, "0, ", $r, "12"),
                    concat!("vmovaps ", $r, "1, ", $r, "12"),
                    concat!("vmovaps ", $r, "2, ", $r, "12"),
                    concat!("vmovaps ", $r, "3, ", $r, "12"),
                    concat!("vmovaps ", $r, "4, ", $r, "12"),
                    concat!("vmovaps ", $r, "5, ", $r, "12"),
                    concat!("vmovaps ", $r, "6, ", $r, "12"),
                    concat!("vmovaps ", $r, "7, ", $r, "12"),
                    concat!("vmovaps ", $r, "8, ", $r, "12"),
                    concat!("vmovaps ", $r, "9, ", $r, "12"),
                    concat!("vmovaps ", $r, "10, ", $r, "12"),
                    concat!("vmovaps ", $r, "11, ", $r, "12"),
                    "2:",
                    concat!("vfmadd132ps ", $r, "0, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "1, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "2, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "3, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "4, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "5, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "6, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "7, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "8, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "9, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "10, ", $r, "13, ", $r, "12"),
                    concat!("vfmadd132ps ", $r, "11, ", $r, "13, ", $r, "12"),
                    "dec rcx",
                    "jnz 2b",
                    "vzeroupper",
                    a = in(reg) &a,
                    b = in(reg) &b,
                    inout("rcx") TRIPS => _,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }};
    }

    /// 256-bit FMAs.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2 and FMA.
    pub unsafe fn fma_256() {
        fma_loop!("ymm")
    }

    /// 512-bit FMAs.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F.
    pub unsafe fn fma_512() {
        fma_loop!("zmm")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widths_are_what_the_cpu_reports_and_each_runs() {
        let widths = widths();
        #[cfg(all(target_arch = "x86_64", not(windows)))]
        {
            let fma = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            assert_eq!(widths.contains(&Width::Avx2), fma);
            assert_eq!(
                widths.contains(&Width::Avx512),
                fma && std::arch::is_x86_feature_detected!("avx512f")
            );
        }
        for w in [Width::Avx2, Width::Avx512] {
            // A width the CPU lacks never runs its instructions.
            assert_eq!(w.run(), widths.contains(&w));
            assert_eq!(w.flops(), (2 * CHAINS * w.lanes() * TRIPS) as u64);
        }
    }

    #[test]
    fn the_peak_is_a_plausible_rate_or_none() {
        assert_eq!(gflops(0, 1), None);
        match gflops(1, 3) {
            // At least a 1 GHz core doing one 256-bit FMA every ten cycles,
            // at most a 10 GHz one doing four 512-bit FMAs a cycle.
            Some(one) => assert!((1.6..=1280.0).contains(&one), "{one} GFLOP/s"),
            None => assert!(widths().is_empty()),
        }
    }
}
