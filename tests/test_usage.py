"""Per-step wall time and peak memory: a step's peak is its own, not the process's so far, and
measuring it leaves the process's own peak (what /usr/bin/time reports) alone."""

from __future__ import annotations

import mmap
import time

from hintrag.usage import Usage, process_peak_gb, describe, measured


def test_a_steps_peak_is_its_own_and_its_wall_time_is_counted() -> None:
    # A fresh anonymous mapping, not a bytearray: the allocator may hand a bytearray memory that an
    # earlier test freed and that is still resident, so the resident size would not move at all.
    size = 400 * 2**20
    with measured() as big:
        block = mmap.mmap(-1, size)
        for offset in range(0, size, mmap.PAGESIZE):  # touched, so that it is resident
            block[offset] = 1
        time.sleep(0.05)
    block.close()  # unmapped: resident again only what the process held before
    with measured() as small:
        time.sleep(0.05)
    assert big.wall_s >= 0.05 and big.peak_rss_gb is not None and small.peak_rss_gb is not None
    if not small.since_start:  # sampled from /proc (Linux)
        assert big.peak_rss_gb - small.peak_rss_gb > 0.3
        assert process_peak_gb() >= big.peak_rss_gb - 0.01  # the kernel's high-water mark was not reset
    assert describe(Usage(wall_s=90, peak_rss_gb=1.234)) == "1.5 min, peak RSS 1.2 GB"
    assert describe(Usage(wall_s=6, since_start=True)) == "0.1 min, peak RSS - (process so far)"


def test_a_step_that_raises_is_still_measured() -> None:
    try:
        with measured() as usage:
            raise RuntimeError("stage failed")
    except RuntimeError:
        pass
    assert usage.wall_s > 0 and usage.peak_rss_gb is not None
