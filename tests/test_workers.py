"""pipeline.workers: a play step spread over shard processes, then merged in the pipeline's process."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import make_cfg
from omegaconf import DictConfig

from hintrag import workers
from hintrag.llm.models import _write_folder


def record_stage(mode: str, cfg: DictConfig, root: Path) -> dict:
    """A stand-in stage (importable by spawned workers): notes each call; shard 1 fails when asked."""
    if cfg.shard == 1 and (root / "fail-shard-1").exists():
        raise RuntimeError("shard 1 broke")
    call = {"mode": mode, "shard": cfg.shard, "num_shards": cfg.num_shards, "threads": cfg.backend.threads}
    with (root / "calls.jsonl").open("a") as out:
        out.write(json.dumps(call) + "\n")
    return {"run": str(root), "n_episodes": 3}


def calls(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]


def test_each_worker_plays_its_shard_with_its_share_of_the_cores() -> None:
    cfg = make_cfg("mode=rollout")
    shards = workers.shard_configs(cfg, 3, cores=8)
    assert [(c.shard, c.num_shards, c.backend.threads) for c in shards] == [(0, 3, 2), (1, 3, 2), (2, 3, 2)]
    assert workers.threads_per_worker(4, cores=2) == 1


def test_workers_play_the_shards_then_this_process_merges(tmp_path: Path) -> None:
    summary = workers.run_sharded(record_stage, "rollout", make_cfg("mode=rollout"), tmp_path, 2)
    made = calls(tmp_path)
    assert sorted((c["shard"], c["num_shards"]) for c in made[:2]) == [(0, 2), (1, 2)]
    assert made[2] == {"mode": "rollout", "shard": None, "num_shards": 2, "threads": None}  # the merge, last
    assert summary["workers"] == 2 and summary["n_episodes"] == 3 and summary["workers_peak_rss_gb"] > 0


def test_a_failed_worker_is_named_and_the_merge_still_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "fail-shard-1").touch()
    with caplog.at_level(logging.ERROR, logger="hintrag.workers"):
        workers.run_sharded(record_stage, "eval", make_cfg("mode=eval"), tmp_path, 2)
    assert "shard process(es) [1] of 2 failed" in caplog.text
    assert [c["shard"] for c in calls(tmp_path)] == [0, None]  # the real merge names the unfinished shard


def test_a_folder_another_process_wrote_first_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "merged"

    def save(folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        if not target.exists():  # the other process renames its copy while this one is still saving
            target.mkdir()
            (target / "config.json").write_text('{"first": true}')

    _write_folder(target, save)
    assert json.loads((target / "config.json").read_text()) == {"first": True}
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]  # this process's copy is gone
