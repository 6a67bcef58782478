//! Where a buffer's cache lines are: asked for ahead of a read, or handed
//! back to memory before a core rewrites them. Neither changes a value.
//!
//! [`prefetch`] asks for lines into L2, not L1: a core tracks only a few
//! dozen misses into L1 at once, fewer than the lines a gather of scattered
//! rows needs in flight to cover a trip to memory, and L2 tracks more.
//!
//! [`evict`] is for a step on several threads. Every core reads all the
//! parameters (its row blocks' products), and then each chunk's optimizer
//! step rewrites its share of them. A core that writes a line which another
//! core still holds must first have that copy invalidated, and those
//! invalidations do not overlap the way misses do: a prefetch for writing
//! does not start them early. Writing a line that no cache holds is a miss,
//! which the hardware prefetcher streams from memory, and on the hosts
//! measured that was the cheaper of the two. (Both measured in BENCHMARKS.md,
//! "Measurements behind the code's constants".)

/// Writes back and drops, from every core's caches, the lines holding
/// `data`, where the CPU has `clflushopt`; elsewhere it does nothing.
pub fn evict<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if has_clflushopt() {
        for line in lines(data) {
            // SAFETY: the line holds a byte of `data`, so it is on a mapped
            // page; `clflushopt` changes no value in it (its bytes, `data`'s
            // and their neighbours', stay what they were, now in memory),
            // and the CPU has it (checked above).
            unsafe {
                std::arch::asm!(
                    "clflushopt [{}]",
                    in(reg) line,
                    options(nostack, preserves_flags)
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Asks the CPU to start loading the lines holding `data` into its L2 cache,
/// one request per line; off x86-64 it does nothing.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in lines(data) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch neither reads into the program nor faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(line.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// The start of each cache line holding a byte of `data`, first to last:
/// the first may begin before `data`. None for an empty slice (or one of
/// zero-sized values), which may point anywhere, even at no mapped page.
#[cfg(target_arch = "x86_64")]
#[inline]
fn lines<T>(data: &[T]) -> impl Iterator<Item = *const u8> {
    let start = data.as_ptr().cast::<u8>();
    let bytes = std::mem::size_of_val(data);
    let skew = start as usize % LINE;
    let count = if bytes == 0 {
        0
    } else {
        (bytes + skew).div_ceil(LINE)
    };
    let first = start.wrapping_sub(skew);
    (0..count).map(move |l| first.wrapping_add(l * LINE))
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn lines_cover_every_byte_once_from_aligned_starts() {
        let data = vec![0u8; 1024];
        for (start, end) in [(0, 1024), (3, 997), (63, 65), (64, 128), (5, 6), (7, 7)] {
            let slice = &data[start..end];
            let found: Vec<usize> = lines(slice).map(|p| p as usize).collect();
            let (first, last) = (
                slice.as_ptr() as usize,
                slice.as_ptr() as usize + slice.len(),
            );
            if slice.is_empty() {
                assert!(found.is_empty());
                continue;
            }
            assert!(found.iter().all(|&a| a % LINE == 0));
            assert!(found.windows(2).all(|w| w[1] == w[0] + LINE));
            assert!(
                found[0] <= first && first < found[0] + LINE,
                "{start}..{end}"
            );
            let end_line = *found.last().unwrap();
            assert!(end_line < last && last <= end_line + LINE, "{start}..{end}");
        }
        // Prefetching changes nothing either.
        prefetch(&data[3..997]);
        prefetch::<f64>(&[]);
        assert!(data.iter().all(|&b| b == 0));
    }
}
