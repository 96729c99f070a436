"""Stage A: the base agent plays a split; every trajectory is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.play import ERRORS, PLAY_KEYS, TRAJECTORY_FILES, play_exclude, play_parts, play_stage
from hintrag.stagespec import StageSpec, no_links, register

SPEC = register(StageSpec(
    name="rollout",
    describe=lambda cfg: f"Stage A: base agent on {cfg.split}",
    keys=PLAY_KEYS,
    exclude=play_exclude,
    upstream=no_links,
    name_parts=play_parts,
    artifacts={"trajectories": TRAJECTORY_FILES, "errors": ERRORS},
    loads_model=lambda cfg: "model",
))


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    run, metrics = play_stage("rollout", cfg, root)
    print(
        f"rollout: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
        f"mean steps {metrics['mean_steps']:.1f}, mean tokens/episode {metrics['mean_total_tokens']:.0f} -> {run.path}"
    )
    return {"run": str(run.path), **metrics}
