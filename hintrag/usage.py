"""Wall time and peak resident memory of one piece of work (a pipeline step), so that a long run
says which stage took the time and which one the memory, without an external profiler.

The peak is sampled (a thread reads the resident size every `interval` seconds) rather than
taken from the kernel's high-water mark: resetting that mark would also reset what
`/usr/bin/time` and `getrusage` report for the whole process. Where `/proc` is missing the peak
is the process's so far. Memory an earlier step left allocated counts toward a later one.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Usage:
    wall_s: float = 0.0
    peak_rss_gb: float | None = None  # highest sampled resident size during the work
    since_start: bool = False         # True: no sampling here; the peak is the process's so far


def _rss_gb() -> float | None:
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE / 2**30
    except (OSError, IndexError, ValueError):
        return None


def process_peak_gb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


@contextmanager
def measured(interval: float = 0.1) -> Iterator[Usage]:
    """Fills the yielded Usage when the block ends (also when it raises)."""
    first = _rss_gb()
    usage = Usage(peak_rss_gb=first, since_start=first is None)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            now = _rss_gb()
            if now is not None and now > (usage.peak_rss_gb or 0.0):
                usage.peak_rss_gb = now

    sampler = threading.Thread(target=sample, daemon=True, name="rss-sampler")
    if not usage.since_start:
        sampler.start()
    started = time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - started
        done.set()
        if usage.since_start:
            usage.peak_rss_gb = process_peak_gb()
        else:
            sampler.join()
            usage.peak_rss_gb = max(usage.peak_rss_gb or 0.0, _rss_gb() or 0.0)


def describe(usage: Usage) -> str:
    peak = "-" if usage.peak_rss_gb is None else f"{usage.peak_rss_gb:.1f} GB"
    return f"{usage.wall_s / 60:.1f} min, peak RSS {peak}{' (process so far)' if usage.since_start else ''}"
