"""Stage A: the base agent plays a split; every trajectory is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.play import play_stage


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    run, metrics = play_stage("rollout", cfg, root)
    print(
        f"rollout: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
        f"mean steps {metrics['mean_steps']:.1f}, mean tokens/episode {metrics['mean_total_tokens']:.0f} -> {run.path}"
    )
    return {"run": str(run.path), **metrics}
