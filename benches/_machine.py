"""What the machine is, what it could do at best, and how much memory a
process holds (Linux: /proc; elsewhere the figures are missing, not wrong)."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass

#: FMA units per core assumed for the peak: Xeon Scalable (Skylake-SP and
#: later, Gold/Platinum) cores issue two 512-bit FMAs per cycle; the
#: criterion bench ``fma_peak`` measures what this VM actually delivers.
FMA_UNITS_PER_CORE = 2


@dataclass
class Machine:
    """The facts a benchmark table needs beside it."""

    model: str
    cores: int
    mhz: float
    simd: str
    f32_lanes: int
    memory_gib: float
    hypervisor: str
    python: str
    system: str

    @property
    def peak_gflops(self) -> float:
        """float32 FMA peak of all cores at the nominal clock (GFLOP/s)."""
        return self.cores * self.mhz / 1e3 * FMA_UNITS_PER_CORE * self.f32_lanes * 2

    @property
    def peak_avx2_gflops(self) -> float:
        """The same with 256-bit vectors (8 float32 lanes), what AVX2 code can reach."""
        return self.cores * self.mhz / 1e3 * FMA_UNITS_PER_CORE * 8 * 2

    def peak_formula(self) -> str:
        """The peak written out, for the report."""
        return (
            f"{self.cores} cores × {self.mhz / 1e3:.2f} GHz × {FMA_UNITS_PER_CORE} FMA/cycle × "
            f"{self.f32_lanes} float32 lanes ({self.simd}) × 2 FLOP/FMA = "
            f"{self.peak_gflops:.1f} GFLOP/s"
        )

    def as_dict(self) -> dict:
        """JSON-ready, with the peaks."""
        return {
            **asdict(self),
            "peak_gflops_f32": self.peak_gflops,
            "peak_avx2_gflops_f32": self.peak_avx2_gflops,
        }


def measured_peak_gflops(threads: int, repetitions: int = 20) -> float | None:
    """The float32 FMA peak of ``threads`` threads at once, measured now by
    fnn's register-only FMA loop at the widest width the CPU has, the best
    of ``repetitions`` timings (GFLOP/s); None where fnn cannot run it (no
    AVX2 and FMA, no fnn, or an fnn built before it had the loop, as when
    comparing against an older build)."""
    try:
        from fnn import _core
    except ImportError:
        return None
    measure = getattr(_core, "fma_peak_gflops", None)
    try:
        return measure(threads, repetitions) if measure else None
    except ValueError:  # more threads than a measurement starts
        return None


def _cpuinfo() -> dict[str, str]:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return {}
    first = text.split("\n\n", 1)[0]
    return {
        k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())
    }


def describe() -> Machine:
    """The machine this process runs on."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    if "avx512f" in flags:
        simd, lanes = "AVX-512", 16
    elif {"avx2", "fma"} <= flags:
        simd, lanes = "AVX2+FMA", 8
    else:
        simd, lanes = "SSE", 4
    # The nominal clock in the model name ("@ 2.70GHz") wins over "cpu MHz",
    # which some kernels report as the current, scaled clock.
    model = info.get("model name", platform.processor() or "unknown")
    nominal = re.search(r"@\s*([\d.]+)\s*GHz", model)
    mhz = float(nominal.group(1)) * 1e3 if nominal else float(info.get("cpu MHz", "nan"))
    memory = _meminfo_kib("MemTotal") / 2**20
    return Machine(
        model=model,
        cores=os.cpu_count() or 1,
        mhz=mhz,
        simd=simd,
        f32_lanes=lanes,
        memory_gib=round(memory, 1),
        hypervisor="yes" if "hypervisor" in flags else "no",
        python=platform.python_version(),
        system=f"{platform.system()} {platform.release()}",
    )


def _meminfo_kib(field: str) -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def status_mib(field: str) -> float:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def release_free_memory() -> None:
    """Hand memory the allocator keeps on its free lists back to the system
    (glibc's ``malloc_trim``), so RSS is what is in use; no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss() -> bool:
    """Restart VmHWM from the current RSS (Linux ≥ 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
