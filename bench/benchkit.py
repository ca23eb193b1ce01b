"""What the cold-start benchmarks share: timing a command as a fresh process."""

from __future__ import annotations

import statistics
import subprocess
import time

WARMUP_RUNS = 2


def process_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a measured process, minus PYTHONDONTWRITEBYTECODE: an installed lore
    has its bytecode compiled (pip does it), so the warm-up runs must be allowed to write
    it; otherwise every run would recompile each module lore imports."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median, p95 and min wall milliseconds of ``runs`` fresh processes running
    ``argv`` (after two warm-up runs that fill the OS page cache)."""
    samples: list[float] = []
    env = process_env(env)
    for _ in range(runs + WARMUP_RUNS):
        started = time.perf_counter()
        subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True
        )
        samples.append((time.perf_counter() - started) * 1000)
    samples = sorted(samples[WARMUP_RUNS:])
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 1),
        "min_ms": round(samples[0], 1),
    }
