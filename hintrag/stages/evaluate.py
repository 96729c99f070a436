"""`mode=eval`: play an evaluation split with a student (base model + adapter, no retrieval, no hint
block, no few-shot example by default) or with any agent config, writing Stage A's records and
metrics so Base, RAG teacher, SFT and Distill runs compare directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.artifacts import adapter
from hintrag.play import play_stage
from hintrag.store import with_values


def student_cfg(cfg: DictConfig, root: Path) -> DictConfig:
    """The config the student plays under: the trained adapter loaded, the example left out."""
    return with_values(cfg, {"model.adapter": str(adapter("eval", cfg, root))})


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    play_cfg = student_cfg(cfg, root) if cfg.eval.student else cfg
    run_, metrics = play_stage("eval", play_cfg, root, fewshot=bool(cfg.eval.fewshot) or not cfg.eval.student)
    who = f"student ({cfg.train.regime}, adapter {play_cfg.model.adapter})" if cfg.eval.student else "agent"
    print(f"eval {who}: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
          f"score {metrics['score']:.1f}, mean steps {metrics['mean_steps']:.1f}, "
          f"mean tokens/episode {metrics['mean_total_tokens']:.0f} -> {run_.path}")
    return {"run": str(run_.path), **metrics}
