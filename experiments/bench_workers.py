"""Benchmark: one play stage in one process against `pipeline.workers` shard processes.

    python experiments/bench_workers.py experiment=small_alfworld model.warm_start=null split=valid_seen \
        n_episodes=16 max_steps=10 pipeline.workers=2

Same games, same model, same config, each into a fresh temporary run store; only the schedule
differs: Stage A (mode=rollout) in this process with every core, then as pipeline.workers shard
processes with their share of the cores each, and the merge. Wall times include loading the model
(once per process), as a pipeline step pays it. Prints both, the ratio, and whether every episode's
actions agree.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from hintrag.stages import run_stage
from hintrag.store import check_store, read_jsonl
from hintrag.workers import run_sharded


def _actions(root: Path) -> dict[str, list[str]]:
    return {rec["episode_id"]: [s["action"] for s in rec["trace"]]
            for f in root.glob("rollout/*/trajectories*.jsonl") for rec in read_jsonl(f)}


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    workers = int(cfg.pipeline.workers)
    if workers < 2:
        raise SystemExit("set pipeline.workers=2 (or more) to compare against one process")
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        one_root, many_root = Path(one), Path(many)
        check_store(one_root), check_store(many_root)
        alone = _timed(lambda: run_stage("rollout", cfg, one_root))
        sharded = _timed(lambda: run_sharded(run_stage, "rollout", cfg, many_root, workers))
        same = _actions(one_root) == _actions(many_root)
        episodes = len(_actions(one_root))
    print(f"one process: {alone:.1f} s; {workers} workers: {sharded:.1f} s; {episodes} episodes")
    print(f"speed-up: {alone / sharded:.2f}x; identical actions in every episode: {same}")


if __name__ == "__main__":
    main()
