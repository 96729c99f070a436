"""Stage A: the base agent plays a split; every trajectory is kept."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag.agents import make_agent
from hintrag.envs import EpisodeSpec, Suite, make_suite
from hintrag.hints.retrieval import Retriever
from hintrag.llm import Backend, make_backend
from hintrag.errors import ConfigError
from hintrag.metrics import episode_metrics
from hintrag.rollout import Hinting, limits_from, play
from hintrag.shards import missing, shard_of
from hintrag.store import Run, locate_run, open_run, unique_by, upstream
from hintrag.validate import validate_model

log = logging.getLogger(__name__)

TRAJECTORIES = "trajectories.jsonl"
ERRORS = "errors.jsonl"  # episodes whose model calls failed after retries; they are played again on a rerun


def select_episodes(suite: Suite, split: str, n_episodes: int | None) -> list[EpisodeSpec]:
    """The first `n_episodes` of the split in the env's deterministic order (all when null)."""
    specs = suite.episodes(split)
    if n_episodes is not None and n_episodes > len(specs):
        log.warning("n_episodes=%d but %s has %d episodes; playing all of them", n_episodes, split, len(specs))
    return specs if n_episodes is None else specs[:n_episodes]


def upstream_trajectories(stage: str, cfg: DictConfig, root: Path) -> tuple[Run, list[dict[str, Any]]]:
    """The episodes of the run `stage` reads (found by its key), or one error naming the command that makes them."""
    up, src = upstream(stage, cfg)
    source = locate_run(up, src, root)
    records = list(unique_by(source.records(TRAJECTORIES), "episode_id").values())
    if not records:
        label = "Stage A" if up == "rollout" else up
        raise ConfigError(
            f"no {label} trajectories at {source.path}; run `python run.py mode={up} "
            f"split={src.split}` with the same env, agent, model, seed and max_steps first"
        )
    return source, records


def _keep(run: Run, name: str, record: dict[str, Any], seen: dict[str, dict[str, Any]]) -> None:
    """Append a finished record and add it to what this run has seen, so nothing is read back."""
    run.append(name, record)
    seen.setdefault(record["episode_id"], record)


def play_stage(
    stage: str, cfg: DictConfig, root: Path, retriever: Callable[[Backend], Retriever] | None = None,
    fewshot: bool = True,
) -> tuple[Run, dict[str, Any]]:
    """Play the configured episodes into the stage's run folder, resuming; return run and metrics.

    `retriever` (teacher) builds the hint retriever once the agent's backend exists, since the
    paper's re-ranker is an LLM call.
    """
    suite = make_suite(cfg.env)
    shard = shard_of(cfg)
    specs = select_episodes(suite, cfg.split, cfg.n_episodes)
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
        hinting = None
        if retriever is not None:
            hinting = Hinting(retriever(backend), int(cfg.k), bool(cfg.teacher.repeat_hint))
        timing = play(
            todo, suite, agent, backend, limits_from(cfg), int(cfg.batch_size),
            on_finish=lambda rec: _keep(run, out_file, rec.to_dict(), seen), on_error=lambda e: run.append(ERRORS, e),
            hinting=hinting, fewshot=fewshot,
        )
    else:
        log.info("%s: all %d episodes already in %s; nothing to play", stage, len(specs), run.path)
    wanted = {s.id for s in specs}
    records = [r for i, r in seen.items() if i in wanted]
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


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    run, metrics = play_stage("rollout", cfg, root)
    print(
        f"rollout: {metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
        f"mean steps {metrics['mean_steps']:.1f}, mean tokens/episode {metrics['mean_total_tokens']:.0f} -> {run.path}"
    )
    return {"run": str(run.path), **metrics}
