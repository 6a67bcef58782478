//! Handing a buffer's cache lines back to memory before a core rewrites it.
//!
//! In a step on several threads every core reads all the parameters (its row
//! blocks' products), and then each chunk's optimizer step rewrites its share
//! of them. A core that writes a line which another core still holds must
//! first have that copy invalidated, and those invalidations do not overlap
//! the way misses do: a prefetch for writing does not start them early.
//! Writing a line that no cache holds is a miss, which the hardware
//! prefetcher streams from memory, and on the hosts measured that was the
//! cheaper of the two (see BENCHMARKS.md, "Measurements behind the code's
//! constants"). [`evict`] flushes the lines from every cache first. It
//! changes no value, only where the lines are.

/// Writes back and drops, from every core's caches, the lines holding
/// `data`, where the CPU has `clflushopt`; elsewhere it does nothing.
pub fn evict<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if has_clflushopt() {
        let start = data.as_ptr().cast::<u8>();
        let bytes = std::mem::size_of_val(data);
        // An empty slice (or one of zero-sized values) may point anywhere,
        // even at no mapped page: it holds no line to flush.
        if bytes == 0 {
            return;
        }
        // The first line may begin before `data`, so step from its start.
        let skew = start as usize % LINE;
        let mut offset = 0;
        while offset < bytes + skew {
            // SAFETY: `bytes > 0`, so every address flushed lies in a line
            // that holds a byte of `data`, on a mapped page; `clflushopt`
            // changes no value in the line (its bytes, `data`'s and their
            // neighbours', stay what they were, now in memory), and the CPU
            // has it (checked above).
            unsafe {
                std::arch::asm!(
                    "clflushopt [{}]",
                    in(reg) start.wrapping_sub(skew).wrapping_add(offset),
                    options(nostack, preserves_flags)
                );
            }
            offset += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Bytes per cache line on every x86-64 CPU fnn runs on.
#[cfg(target_arch = "x86_64")]
const LINE: usize = 64;

/// Whether the CPU has `clflushopt` (CPUID leaf 7, EBX bit 23), read once.
#[cfg(target_arch = "x86_64")]
fn has_clflushopt() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        use std::arch::x86_64::{__cpuid, __cpuid_count};
        // `unsafe` for the Rust versions before `cpuid` became a safe
        // function (the crate's `rust-version` is older).
        // SAFETY: every x86-64 CPU has `cpuid`; leaf 7 is read only where the
        // highest leaf (leaf 0's EAX) reaches it.
        #[allow(unused_unsafe)]
        let has = unsafe { __cpuid(0).eax >= 7 && __cpuid_count(7, 0).ebx & (1 << 23) != 0 };
        has
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicting_keeps_every_value() {
        let data: Vec<f64> = (0..1000).map(|i| i as f64 * 0.25 - 7.0).collect();
        // Slices that start and end inside lines, and an empty one.
        for (start, end) in [(0, 1000), (3, 997), (5, 6), (500, 500)] {
            evict(&data[start..end]);
        }
        let bytes: Vec<u8> = (0..=255).collect();
        evict(&bytes[1..]);
        // Empty slices and zero-sized values hold no line.
        evict::<f64>(&[]);
        evict(&Vec::<f64>::new());
        evict(&[(); 3]);
        assert!(data
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as f64 * 0.25 - 7.0));
        assert!(bytes.iter().enumerate().all(|(i, &b)| b as usize == i));
    }
}
