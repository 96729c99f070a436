"""Benchmark: the pipeline with one worker against `pipeline.workers` worker processes.

    python experiments/bench_workers.py experiment=quick_webshop n_episodes=6 pipeline.train_episodes=6 \
        demos.per_category=1 pipeline.workers=2

The same config twice, each into a fresh temporary run store (the converted model cache is
shared): every step in this process one after the other, then up to pipeline.workers steps at once
in worker processes. Prints both wall times, the ratio, and whether the two stores made the same
results (every episode's actions, the bank, the datasets, the adapters' bytes: store.made).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from hintrag.stages import run_mode
from hintrag.store import made, with_values


def _timed(cfg: DictConfig) -> float:
    started = time.perf_counter()
    run_mode(cfg)
    return time.perf_counter() - started


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    workers = int(cfg.pipeline.workers)
    if workers < 2:
        raise SystemExit("set pipeline.workers=2 (or more) to compare against one worker")
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        base = with_values(cfg, {"mode": "pipeline"})
        alone = _timed(with_values(base, {"store.root": one, "pipeline.workers": 1}))
        together = _timed(with_values(base, {"store.root": many}))
        first, second = made(Path(one)), made(Path(many))
    print(f"one worker: {alone:.1f} s; {workers} workers: {together:.1f} s; speed-up {alone / together:.2f}x")
    print(f"same results: {first == second} ({len(first)} episodes and files; "
          f"{sum(first.get(k) != second.get(k) for k in first.keys() | second.keys())} differ)")


if __name__ == "__main__":
    main()
