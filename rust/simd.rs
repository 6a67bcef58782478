//! Runtime dispatch of element-wise passes to AVX2.
//!
//! The crate is compiled for baseline x86-64 so the wheel runs anywhere; a
//! pass written as a [`Kernel`] is compiled a second time with AVX2 enabled
//! and chosen at run time. Loops inside are auto-vectorised, 8 floats wide
//! instead of 4. Every operation is IEEE-rounded per element (no fused
//! multiply-add is introduced), so both versions give identical bits.

/// An element-wise pass. Implementations mark `run` `#[inline(always)]` so it
/// is compiled into each instruction-set version.
pub trait Kernel {
    /// What the pass returns (sums, or nothing).
    type Output;
    /// Runs the pass over its whole range.
    fn run(self) -> Self::Output;
}

/// Runs `kernel` with the widest instruction set this CPU offers.
#[inline]
pub fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked to support AVX2.
            return unsafe { run_avx2(kernel) };
        }
    }
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}

/// While alive, the current thread flushes subnormal floats to zero (MXCSR's
/// FTZ and DAZ bits), as `torch.set_flush_denormal(True)` does; dropping it
/// restores the previous mode.
///
/// Adam's moments of weights whose gradient is always zero (a constant input
/// feature, a dead unit) decay geometrically into the subnormal range, where
/// every operation takes the CPU's slow path: enough to make the optimizer
/// step the slowest part of training (see BENCHMARKS.md, "Measurements behind the code's constants"). Flushing changes results only below 1.2e-38 (f32)
/// or 2.2e-308 (f64).
pub struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    previous: u32,
}

#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

impl FlushSubnormals {
    /// Turns flushing on for the current thread.
    pub fn new() -> Self {
        Self::switch(true)
    }

    /// Turns flushing on or off until the guard drops.
    fn switch(on: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let previous = read_mxcsr();
            write_mxcsr(if on {
                previous | FTZ_DAZ
            } else {
                previous & !FTZ_DAZ
            });
            FlushSubnormals { previous }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = on;
            FlushSubnormals {}
        }
    }

    /// Turns flushing on for the current thread for good (pool workers).
    pub fn forever() {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(read_mxcsr() | FTZ_DAZ);
    }
}

/// Runs `f` with subnormal floats kept (FTZ and DAZ off), then restores the
/// thread's mode (a [`FlushSubnormals`] guard's drop): for Python code called
/// back from inside training, which expects IEEE arithmetic.
pub fn with_default_float_mode<R>(f: impl FnOnce() -> R) -> R {
    let _restore = FlushSubnormals::switch(false);
    f()
}

impl Default for FlushSubnormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.previous);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit control register into `csr`.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack)) };
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(csr: u32) {
    // SAFETY: ldmxcsr loads a control word read from the register itself with
    // only the FTZ/DAZ mode bits changed; no exception is unmasked.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_calls_back_with_subnormals_kept() {
        let tiny = f32::MIN_POSITIVE;
        let halve = |x: f32| std::hint::black_box(x) / 2.0;
        let _guard = FlushSubnormals::new();
        // `black_box` keeps the division inside the call: nothing ties plain
        // arithmetic to the mode switches otherwise.
        let kept = with_default_float_mode(|| std::hint::black_box(halve(tiny)));
        // Compared by its bits: with DAZ back on, a subnormal reads as zero.
        assert_eq!(kept.to_bits(), (tiny / 2.0).to_bits());
        assert_ne!(kept.to_bits(), 0);
        assert_eq!(halve(tiny), 0.0);
    }

    #[test]
    fn subnormals_flush_only_while_the_guard_lives() {
        let tiny = f32::MIN_POSITIVE;
        let halve = |x: f32| std::hint::black_box(x) / 2.0;
        assert!(halve(tiny) > 0.0);
        {
            let _guard = FlushSubnormals::new();
            assert_eq!(halve(tiny), 0.0);
        }
        assert!(halve(tiny) > 0.0);
    }
}
