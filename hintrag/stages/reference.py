"""`mode=reference`: the env's trivial policy on the evaluation episodes (WebShop: search the
instruction, buy the first result; ALFWorld: a seeded random admissible command), so the report
shows where competence starts beside Base. No model; cached and resumed like every stage."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.scripted import policy_record
from hintrag.envs import make_suite
from hintrag.metrics import episode_metrics
from hintrag.play import select_episodes
from hintrag.stagegraph import TRAJECTORIES
from hintrag.store import open_run, unique_by

log = logging.getLogger(__name__)


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    suite = make_suite(cfg.env)
    specs = select_episodes(suite, cfg.split, cfg.n_episodes)
    out = open_run("reference", cfg, root)
    seen = unique_by(out.records(TRAJECTORIES), "episode_id")
    todo = [s for s in specs if s.id not in seen]
    log.info("reference: %d of %d episodes to play in %s", len(todo), len(specs), out.path)
    for spec in todo:
        started = time.perf_counter()
        demo = suite.reference(spec, int(cfg.max_steps), int(cfg.seed))
        record = policy_record(spec, demo, suite.failures, time.perf_counter() - started).to_dict()
        out.append(TRAJECTORIES, record)
        seen[spec.id] = record
    metrics = episode_metrics([seen[s.id] for s in specs])
    out.write_json("metrics.json", metrics)
    print(f"reference policy: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
          f"score {metrics['score']:.1f} -> {out.path}")
    return {"run": str(out.path), **metrics}
