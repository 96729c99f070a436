"""Wall time and peak resident memory of one piece of work (a pipeline step), so that a long run
says which stage took the time and which one the memory, without an external profiler.

Peak memory per step uses Linux's resettable high-water mark (`/proc/self/clear_refs` with 5
resets VmHWM); elsewhere, or where the reset is not allowed, the peak is the process's so far.
"""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Usage:
    wall_s: float = 0.0
    peak_rss_gb: float | None = None  # during the work where the high-water mark could be reset
    since_start: bool = False         # True: the peak is the process's since it started


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _peak_gb() -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


@contextmanager
def measured() -> Iterator[Usage]:
    """Fills the yielded Usage when the block ends (also when it raises)."""
    usage = Usage(since_start=not _reset_peak())
    started = time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - started
        usage.peak_rss_gb = _peak_gb()


def describe(usage: Usage) -> str:
    peak = "-" if usage.peak_rss_gb is None else f"{usage.peak_rss_gb:.1f} GB"
    return f"{usage.wall_s / 60:.1f} min, peak RSS {peak}{' (process so far)' if usage.since_start else ''}"
