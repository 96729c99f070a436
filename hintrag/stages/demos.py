"""`mode=demos`: expert demonstrations on train episodes, the data of the behaviour-cloning warm
start. The env's scripted expert plays (ALFWorld's handcoded expert, WebShop's oracle); records
have Stage A's schema, token fields 0; lost episodes are kept and marked, never trained on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.agents import make_agent
from hintrag.scripted import demo_games, demonstrate
from hintrag.envs import make_suite
from hintrag.errors import ConfigError
from hintrag.metrics import episode_metrics
from hintrag.stagegraph import TRAJECTORIES
from hintrag.store import open_run, unique_by

log = logging.getLogger(__name__)


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    if str(cfg.demos.split) == str(cfg.env.eval_split):
        raise ConfigError(f"demos.split={cfg.demos.split} is {cfg.env.name}'s evaluation split; demonstrations "
                          f"must come from training episodes (demos.split=train)")
    suite = make_suite(cfg.env)
    agent = make_agent(cfg.agent, cfg.env)
    specs = demo_games(suite, str(cfg.demos.split), int(cfg.demos.per_category))
    out = open_run("demos", cfg, root)
    seen = unique_by(out.records(TRAJECTORIES), "episode_id")
    todo = [s for s in specs if s.id not in seen]
    log.info("demos: %d of %d episodes to play in %s", len(todo), len(specs), out.path)
    for spec in todo:
        record = demonstrate(suite, spec, agent, int(cfg.demos.max_steps)).to_dict()
        out.append(TRAJECTORIES, record)
        seen[spec.id] = record
    records = [seen[s.id] for s in specs]
    metrics = episode_metrics(records)
    out.write_json("metrics.json", metrics)
    won = [r for r in records if r["success"]]
    print(f"demos: {len(won)} of {len(records)} won by the expert (lost ones are kept, not trained on), "
          f"mean steps {metrics['mean_steps']:.1f} -> {out.path}")
    return {"run": str(out.path), **metrics}
