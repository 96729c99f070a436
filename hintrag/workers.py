"""One play stage spread over local processes: shard i of n in process i, then the merge.

On a machine with few cores one process leaves a core idle while it steps its games (single-
threaded Python), and a small model's matrix products scale poorly over threads; n processes
with cores/n threads each keep every core busy. The processes play the very shards a SLURM sweep
plays (`shard=i num_shards=n`), whose records are those of an unsharded run (tests/test_order.py),
so the run key, the resume and the merge are the ones documented for shards.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag.store import with_values
from hintrag.usage import measured

log = logging.getLogger(__name__)

RunStage = Callable[[str, DictConfig, Path], dict[str, Any]]


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads for each of `workers` processes sharing this machine's cores (at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


def shard_configs(cfg: DictConfig, workers: int, cores: int | None = None) -> list[DictConfig]:
    """The config of each worker: its shard of `workers`, with its share of the cores."""
    threads = threads_per_worker(workers, cores)
    return [with_values(cfg, {"shard": i, "num_shards": workers, "backend.threads": threads}) for i in range(workers)]


def _play_shard(run_stage: RunStage, mode: str, cfg: DictConfig, root: Path, peaks: Any) -> None:
    """A worker's body: its logs go to stderr tagged with its shard; its peak memory goes back."""
    logging.basicConfig(level=logging.INFO, format=f"[shard {cfg.shard}/{cfg.num_shards}] %(name)s: %(message)s")
    with measured() as usage:
        run_stage(mode, cfg, root)
    peaks.put(usage.peak_rss_gb or 0.0)


def run_sharded(run_stage: RunStage, mode: str, cfg: DictConfig, root: Path, workers: int) -> dict[str, Any]:
    """Play `mode` as `workers` shard processes, then merge in this process and return the merge's summary.

    A worker that fails is named, and the merge then stops with the shards left to play (a rerun
    resumes them); the summary carries `workers_peak_rss_gb`, the sum of the workers' peaks.
    """
    context = multiprocessing.get_context("spawn")  # torch and TextWorld state are not fork-safe
    peaks = context.Queue()
    processes = [
        context.Process(target=_play_shard, args=(run_stage, mode, shard_cfg, root, peaks), daemon=True)
        for shard_cfg in shard_configs(cfg, workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [i for i, process in enumerate(processes) if process.exitcode != 0]
    if failed:
        log.error("%s: shard process(es) %s of %d failed (see their output above)", mode, failed, workers)
    total = sum(peaks.get() for _ in range(workers - len(failed)))
    summary = run_stage(mode, with_values(cfg, {"num_shards": workers, "shard": None}), root)
    return {**summary, "workers": workers, "workers_peak_rss_gb": round(total, 2)}
