"""`mode=eval`: play an evaluation split with a student (base model + adapter, no retrieval, no hint
block, no few-shot example by default) or with any agent config, writing Stage A's records and
metrics so Base, RAG teacher, SFT and Distill runs compare directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag import stagespec
from hintrag.play import PLAY_KEYS, TRAJECTORY_FILES, play_exclude, play_parts, play_stage
from hintrag.stagespec import Exclude, Link, StageSpec, register
from hintrag.store import locate_run, inputs, missing_input, with_values


def _exclude(cfg: DictConfig) -> Exclude:
    if not cfg.eval.student:
        return play_exclude(cfg)
    return {**play_exclude(cfg), "model.adapter": "set to the student's adapter; its train run is hashed as upstream"}


def _describe(cfg: DictConfig) -> str:
    return f"{cfg.train.regime} student on {cfg.split}" if cfg.eval.student else f"the agent on {cfg.split}"


SPEC = register(StageSpec(
    name="eval",
    describe=_describe,
    keys=(*PLAY_KEYS, "eval"),
    exclude=_exclude,
    # the student's train run, from the base weights (the adapter a student plays with is not its input)
    upstream=lambda cfg: [Link("train", {"model.adapter": None})] if cfg.eval.student else [],
    name_parts=lambda cfg: [*play_parts(cfg), f"student-{cfg.train.regime}" if cfg.eval.student else "agent"],
    artifacts={"trajectories": TRAJECTORY_FILES},
    loads_model=lambda cfg: "model",
))


def student_cfg(cfg: DictConfig, root: Path) -> DictConfig:
    """The config the student plays under: the trained adapter loaded, the example left out."""
    (link, up), = inputs("eval", cfg)
    adapter = locate_run(link.stage, up, root).path / stagespec.get(link.stage).artifacts["adapter"]
    if not (adapter / "adapter_config.json").is_file():
        raise missing_input(link, up, cfg, "trained adapter", adapter)
    return with_values(cfg, {"model.adapter": str(adapter)})


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    play_cfg = student_cfg(cfg, root) if cfg.eval.student else cfg
    run_, metrics = play_stage("eval", play_cfg, root, fewshot=bool(cfg.eval.fewshot) or not cfg.eval.student)
    who = f"student ({cfg.train.regime}, adapter {play_cfg.model.adapter})" if cfg.eval.student else "agent"
    print(f"eval {who}: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
          f"score {metrics['score']:.1f}, mean steps {metrics['mean_steps']:.1f}, "
          f"mean tokens/episode {metrics['mean_total_tokens']:.0f} -> {run_.path}")
    return {"run": str(run_.path), **metrics}
