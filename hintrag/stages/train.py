"""Stage D, `mode=train`: a student from the successes of a teacher run (distill) or of the base
agent (sft, the baseline), or a behaviour-cloning warm start on expert demonstrations (bc); trained
with the hint block and the few-shot example removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag import envs
from hintrag.agents import make_agent
from hintrag.errors import ConfigError, NothingToDo
from hintrag.artifacts import trajectories
from hintrag.stagegraph import SOURCES
from hintrag.store import open_run
from hintrag.training import data
from hintrag.training.sft import train_adapter
from hintrag.validate import validate_model


def source_records(cfg: DictConfig, root: Path) -> tuple[str, list[dict[str, Any]]]:
    """The trajectories the student learns from, found by the upstream stage's key."""
    return trajectories("train", cfg, root)


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    source_key, records = source_records(cfg, root)
    agent = make_agent(cfg.agent, cfg.env)
    first = envs.task_only(cfg.env) if cfg.train.get("task_only") else str
    examples, dropped = data.build(records, agent, data.Keep.from_config(cfg.train, cfg.env), first)
    if not examples:
        limit = cfg.train.get("max_nothing_happens")
        nothing = "" if limit is None else f", at most {limit} 'nothing happens'"
        raise NothingToDo(
            f"no usable training examples in {SOURCES[cfg.train.regime]} run {source_key}: "
            f"{len(records)} episodes read, dropped {dict(dropped)} (kept: reward >= {cfg.train.min_reward}, "
            f"no invalid action{nothing}); play more episodes or lower train.min_reward"
        )
    validate_model(cfg)
    run_ = open_run("train", cfg, root)
    train_set, eval_set = data.split(examples, float(cfg.train.eval_fraction), int(cfg.train.seed))
    manifest = {
        "source_stage": SOURCES[cfg.train.regime], "source_run": source_key, "regime": cfg.train.regime,
        "episodes_read": len(records), "kept": len(examples), "dropped": dict(dropped),
        "train_examples": len(train_set), "eval_examples": len(eval_set),
    }
    earlier = _read(run_.path / "manifest.json")
    if earlier is not None and earlier != manifest:
        raise ConfigError(
            f"train run {run_.path} was started on {earlier['episodes_read']} episodes of {source_key}, which now "
            f"has {len(records)}; its checkpoints belong to the old data. Delete {run_.path} to train on all of them"
        )
    finished = _read(run_.path / "metrics.json")
    if finished is not None and (run_.path / "adapter").is_dir():
        print(f"train: already trained -> {run_.path / 'adapter'}")
        return {"run": str(run_.path), **finished}
    data.write_jsonl(run_.path / "dataset" / "train.jsonl", train_set)
    if eval_set:
        data.write_jsonl(run_.path / "dataset" / "eval.jsonl", eval_set)
    run_.write_json("manifest.json", manifest)
    metrics = train_adapter(cfg, run_.path / "dataset" / "train.jsonl",
                            run_.path / "dataset" / "eval.jsonl" if eval_set else None, run_.path)
    run_.write_json("metrics.json", {**manifest, **metrics})
    print(f"train ({cfg.train.regime}, {metrics['quantization']}, r={cfg.train.lora_rank}): {len(train_set)} examples "
          f"from {source_key}, loss {metrics['first_loss']} -> {metrics['last_loss']}, "
          f"{metrics['train_runtime_s']}s, {metrics['tokens_per_s']} tokens/s -> {run_.path / 'adapter'}")
    return {"run": str(run_.path), **manifest, **metrics}
