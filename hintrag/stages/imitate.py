"""`mode=imitate`: one round of iterated imitation plays. The agent warm-started at round
`warm_start.round` plays `imitation.games` train games that neither the demonstrations nor Stage A
and the teacher use. With imitation.label=won the games it wins, with the demos, train round + 1
(train.round, through the warm-start recipe); with imitation.label=expert every turn it took is
recorded with the env's expert's command from that state, and round + 1 learns those commands
(DAgger). Like every play stage it resumes episode by episode; hintrag.warmstart checks its
settings before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.envs import EpisodeSpec, Suite
from hintrag.errors import ConfigError
from hintrag.play import play_stage
from hintrag.scripted import demo_games


def imitation_games(suite: Suite, cfg: DictConfig) -> list[EpisodeSpec]:
    """The demos' split in the env's order, after its first `imitation.after` games (Stage A's and the
    teacher's), without any demo game: the first `imitation.games` of what is left."""
    if expert_labels(cfg) and not suite.labels_any_state:
        raise ConfigError(f"imitation.label=expert: {suite.name}'s expert cannot name a command from a state another "
                          "player reached; use imitation.label=won")
    split, after, wanted = str(cfg.demos.split), int(cfg.imitation.after or 0), int(cfg.imitation.games)
    demos = {s.id for s in demo_games(suite, split, int(cfg.demos.per_category))}
    games = [s for s in suite.episodes(split)[after:] if s.id not in demos][:wanted]
    if len(games) < wanted:
        raise ConfigError(f"imitation.games={wanted}, but {split} has {len(games)} games after its first {after} "
                          f"and the demos' {len(demos)}; lower imitation.games or demos.per_category")
    return games


def expert_labels(cfg: DictConfig) -> bool:
    return str(cfg.imitation.get("label", "won")) == "expert"


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    run_, metrics = play_stage("imitate", cfg, root, chosen=lambda suite: imitation_games(suite, cfg),
                               expert=expert_labels(cfg))
    print(f"imitate (round {cfg.warm_start.round} agent): {metrics['n_episodes']} held-out {cfg.split} games, "
          f"success {metrics['success_rate']:.1%}, mean steps {metrics['mean_steps']:.1f} -> {run_.path}")
    return {"run": str(run_.path), **metrics}
