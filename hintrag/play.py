"""Playing a split into a stage's run folder, for every stage that plays (Stage A, the teacher,
evaluation). Stages call this library; no stage imports another.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag.agents import make_agent
from hintrag.envs import EpisodeSpec, Suite, make_suite
from hintrag.errors import ConfigError
from hintrag.llm import Backend, make_backend
from hintrag.metrics import episode_metrics
from hintrag.episodes import Hinting, limits_from, play
from hintrag.shards import missing, shard_of
from hintrag.stagegraph import ERRORS, TRAJECTORIES
from hintrag.store import Run, open_run, unique_by
from hintrag.validate import validate_model

log = logging.getLogger(__name__)

def select_episodes(suite: Suite, split: str, n_episodes: int | None) -> list[EpisodeSpec]:
    """The first `n_episodes` of the split in the env's deterministic order (all when null)."""
    specs = suite.episodes(split)
    if n_episodes is not None and n_episodes > len(specs):
        log.warning("n_episodes=%d but %s has %d episodes; playing all of them", n_episodes, split, len(specs))
    return specs if n_episodes is None else specs[:n_episodes]


def _keep(run: Run, name: str, record: dict[str, Any], seen: dict[str, dict[str, Any]]) -> None:
    """Append a finished record and add it to what this run has seen, so nothing is read back."""
    run.append(name, record)
    seen.setdefault(record["episode_id"], record)


def play_stage(
    stage: str, cfg: DictConfig, root: Path, hinting: Callable[[Backend], Hinting] | None = None,
    fewshot: bool = True, chosen: Callable[[Suite], list[EpisodeSpec]] | None = None, expert: bool = False,
) -> tuple[Run, dict[str, Any]]:
    """Play the configured episodes into the stage's run folder, resuming; return run and metrics.

    `hinting` (teacher) builds how hints are retrieved once the agent's backend exists, since the
    paper's re-ranker is an LLM call. `chosen` picks the episodes where a stage has its own
    (iterated imitation's held-out games) instead of the split's first `n_episodes`; `expert` records
    the env's expert's command at every turn (imitation.label=expert).
    """
    suite = make_suite(cfg.env)
    shard = shard_of(cfg)
    specs = chosen(suite) if chosen else select_episodes(suite, cfg.split, cfg.n_episodes)
    agent = make_agent(cfg.agent, cfg.env)
    run = open_run(stage, cfg, root)
    seen = unique_by(run.records(TRAJECTORIES), "episode_id")  # read once; new episodes are added as they finish
    if shard.merging:
        absent = missing([s.id for s in specs], set(seen), shard.count)
        if absent:
            raise ConfigError(
                f"{stage}: shard(s) {', '.join(map(str, absent))} of {shard.count} are missing or unfinished in "
                f"{run.path}; run each with shard=<i> num_shards={shard.count}, then merge again"
            )
    else:
        specs = shard.select(specs)
    todo = [] if shard.merging else [s for s in specs if s.id not in seen]
    out_file = TRAJECTORIES.replace(".jsonl", f"{shard.suffix()}.jsonl")
    timing = None
    if todo:
        validate_model(cfg)
        log.info("%s: %d of %d episodes to play in %s", stage, len(todo), len(specs), run.path)
        backend = make_backend(cfg.backend, cfg.model, cfg.generation)
        timing = play(
            todo, suite, agent, backend, limits_from(cfg), int(cfg.batch_size),
            on_finish=lambda rec: _keep(run, out_file, rec.to_dict(), seen), on_error=lambda e: run.append(ERRORS, e),
            hinting=hinting(backend) if hinting else None, fewshot=fewshot, expert=expert,
        )
    else:
        log.info("%s: all %d episodes already in %s; nothing to play", stage, len(specs), run.path)
    records = [seen[s.id] for s in specs if s.id in seen]  # the split's order, however they finished
    metrics = episode_metrics(records)
    metrics_file = f"metrics{shard.suffix()}.json"
    if timing is not None:
        metrics["last_session"] = timing
    elif (run.path / metrics_file).exists():
        metrics["last_session"] = json.loads((run.path / metrics_file).read_text()).get("last_session")
    run.write_json(metrics_file, metrics)
    if timing and timing["errored"]:
        log.warning("%s: %d episode(s) errored (model calls failed after retries; see %s); rerun to play them again",
                    stage, timing["errored"], run.path / ERRORS)
    return run, metrics
