"""`mode=pipeline` (the default): A -> B -> C -> D -> eval -> report in one command.

Every step is the stage itself run under this config with the step's split and size, so it
reuses (and resumes) whatever the run store already holds: an interrupted pipeline picks up
where it stopped. A step with nothing to work on (no failed episode to learn hints from, no
successful one to train a student on) says so and the pipeline goes on to report what it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag.envs import make_suite
from hintrag.errors import NothingToDo
from hintrag.store import with_values
from hintrag.validate import validate_model


def step_cfg(cfg: DictConfig, mode: str, **overrides: Any) -> DictConfig:
    return with_values(cfg, {"mode": mode, **overrides})


def steps(cfg: DictConfig) -> list[tuple[str, str, DictConfig]]:
    """(label, mode, config) for every step, in order."""
    if cfg.pipeline.max_steps is not None:
        cfg = step_cfg(cfg, "pipeline", max_steps=int(cfg.pipeline.max_steps))
    train_split, n_train = cfg.train.source_split, int(cfg.pipeline.train_episodes)
    plan = [
        ("A: base agent on train games", "rollout", step_cfg(cfg, "rollout", split=cfg.hints.source_split, n_episodes=n_train)),
        ("B: hints from its failures", "extract", step_cfg(cfg, "extract")),
        ("C: teacher on train games", "teacher", step_cfg(cfg, "teacher", split=train_split, n_episodes=n_train)),
        ("Base on the evaluation split", "rollout", step_cfg(cfg, "rollout")),
        ("RAG teacher on the evaluation split", "teacher", step_cfg(cfg, "teacher")),
    ]
    for regime in cfg.pipeline.regimes:
        regime_cfg = step_cfg(cfg, "train", **{"train.regime": regime})
        plan.append((f"D: {regime} student", "train", regime_cfg))
        plan.append((f"{regime} student on the evaluation split", "eval", step_cfg(regime_cfg, "eval")))
    plan.append(("report", "report", step_cfg(cfg, "report")))
    return plan


def check(cfg: DictConfig) -> None:
    """Fail before the first stage, not in the middle: every split the pipeline plays, and the model."""
    suite = make_suite(cfg.env)
    for split in {cfg.split, cfg.hints.source_split, cfg.train.source_split}:
        suite.episodes(split)
    validate_model(cfg)


def run(cfg: DictConfig, root: Path, run_stage: Callable[[str, DictConfig, Path], dict[str, Any]]) -> dict[str, Any]:
    check(cfg)
    results: dict[str, Any] = {}
    skipped: set[str] = set()
    for label, mode, step in steps(cfg):
        regime = step.train.regime
        if mode == "eval" and regime in skipped:
            print(f"pipeline: skipping '{label}': no {regime} student was trained")
            continue
        print(f"pipeline: {label} (mode={mode})")
        try:
            results[label] = run_stage(mode, step, root)
        except NothingToDo as reason:
            print(f"pipeline: nothing to do for '{label}': {reason}")
            if mode == "train":
                skipped.add(regime)
    report = results.get("report", {})
    return {"run": report.get("run"), "steps_run": len(results), "students_skipped": sorted(skipped),
            "figure": report.get("figure")}
