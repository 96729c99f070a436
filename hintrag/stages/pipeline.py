"""`mode=pipeline` (the default): every run the report reads, made in dependency order, then the report.

The plan is the report's upstream graph, read off the stage declarations: each run's own
upstream links first, each run once (by key). Every step is the stage itself under this config
with the link's overrides, so it reuses (and resumes) whatever the run store already holds: an
interrupted pipeline picks up where it stopped. Runs on another split than the evaluation one
(the train games of Stage A and the teacher) play `pipeline.train_episodes` episodes; students
are made for `pipeline.regimes`. A step with nothing to work on (no successful episode to train
a student on) says so, the steps that need it are skipped, and the report shows what there is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag import stagespec
from hintrag.envs import make_suite
from hintrag.errors import NothingToDo
from hintrag.store import folder_digest, run_key, upstream, with_values
from hintrag.usage import describe, measured
from hintrag.validate import validate_model
from hintrag.workers import run_sharded


@dataclass
class Step:
    mode: str
    cfg: DictConfig
    key: str
    needs: list[str] = field(default_factory=list)  # keys of the steps it reads

    @property
    def label(self) -> str:
        return stagespec.get(self.mode).describe(self.cfg)


def _wanted(link: stagespec.Link, cfg: DictConfig) -> bool:
    """Every input but the students pipeline.regimes leaves out (the warm start is always made)."""
    regime = link.overrides.get("train.regime")
    return regime is None or link.label == stagespec.WARM_START or regime in cfg.pipeline.regimes


def steps(cfg: DictConfig) -> list[Step]:
    """Every step in dependency order, ending with the report."""
    base = with_values(cfg, {"mode": "report"})
    if cfg.pipeline.max_steps is not None:
        base = with_values(base, {"max_steps": int(cfg.pipeline.max_steps)})
    plan: dict[str, Step] = {}

    def visit(mode: str, step_cfg: DictConfig) -> str:
        key = f"{mode}/{run_key(mode, step_cfg)}"
        if key not in plan:
            needs = []
            for link, up in upstream(mode, step_cfg):
                if not _wanted(link, cfg):
                    continue
                if up.split != step_cfg.split:  # Stage A and the teacher on train games
                    up = with_values(up, {"n_episodes": cfg.pipeline.train_episodes})
                needs.append(visit(link.stage, with_values(up, {"mode": link.stage})))
            plan[key] = Step(mode, step_cfg, key, needs)
        return key

    visit("report", base)
    return list(plan.values())


def check(cfg: DictConfig, plan: list[Step]) -> None:
    """Fail before the first stage, not in the middle: every split the pipeline plays, and the model."""
    suite = make_suite(cfg.env)
    for split in {step.cfg.split for step in plan}:
        suite.episodes(split)
    validate_model(cfg)


def identical_students(plan: list[Step], results: dict[str, Any]) -> list[list[str]]:
    """Regimes whose students learnt from the very same examples (e.g. the one episode the base agent
    and the teacher both won, played the same way): they are one student, and their rows match."""
    groups: dict[str, list[str]] = {}
    for step in plan:
        made = results.get(step.key)
        if step.mode == "train" and step.cfg.train.regime != "bc" and made and made.get("run"):
            dataset = Path(made["run"]) / "dataset"
            if dataset.is_dir() and any(dataset.iterdir()):
                groups.setdefault(folder_digest(dataset), []).append(str(step.cfg.train.regime))
    return [sorted(regimes) for regimes in groups.values() if len(regimes) > 1]


def _run_step(step: Step, root: Path, run_stage: Callable[[str, DictConfig, Path], dict[str, Any]],
              workers: int) -> dict[str, Any]:
    """A step in this process, or, for a play stage with pipeline.workers > 1, over that many processes."""
    if workers > 1 and stagespec.get(step.mode).shardable and step.cfg.num_shards == 1:
        return run_sharded(run_stage, step.mode, step.cfg, root, workers)
    return run_stage(step.mode, step.cfg, root)


def run(cfg: DictConfig, root: Path, run_stage: Callable[[str, DictConfig, Path], dict[str, Any]]) -> dict[str, Any]:
    plan = steps(cfg)
    check(cfg, plan)
    results: dict[str, Any] = {}
    skipped: set[str] = set()
    labels = {step.key: step.label for step in plan}
    used: list[dict[str, Any]] = []  # wall time and peak memory per step run
    for step in plan:
        lacking = [labels[need] for need in step.needs if need in skipped]
        if lacking and step.mode != "report":  # the report shows whatever exists
            print(f"pipeline: skipping '{step.label}': nothing was made by '{', '.join(lacking)}'")
            skipped.add(step.key)
            continue
        print(f"pipeline: {step.label} (mode={step.mode})")
        with measured() as usage:
            try:
                results[step.key] = _run_step(step, root, run_stage, int(cfg.pipeline.workers))
            except NothingToDo as reason:
                print(f"pipeline: nothing to do for '{step.label}': {reason}")
                skipped.add(step.key)
        made = results.get(step.key) or {}
        workers = {"workers_peak_rss_gb": made["workers_peak_rss_gb"]} if made.get("workers") else {}
        shared = f"; {made['workers']} worker processes, peaks summed {made['workers_peak_rss_gb']:.1f} GB" \
            if workers else ""
        print(f"pipeline: '{step.label}' took {describe(usage)}{shared}")
        used.append({"step": step.label, "mode": step.mode, **asdict(usage), **workers})
    same = identical_students(plan, results)
    for regimes in same:
        print(f"pipeline: the {' and '.join(regimes)} students were trained on identical examples (the same "
              f"episodes, played the same way), so they are one student and their rows match")
    report = results.get(plan[-1].key, {})
    students = sorted(s.cfg.train.regime for s in plan if s.mode == "train" and s.key in skipped)
    return {"run": report.get("run"), "steps_run": len(results), "students_skipped": students,
            "figure": report.get("figure"), "usage": used, "identical_students": same}
