"""`mode=pipeline` (the default): every run the report reads, made in dependency order, then the report.

The plan is the report's upstream graph, read off the stage declarations: each run's own
upstream links first, each run once (by key). Every step is the stage itself under this config
with the link's overrides, so it reuses (and resumes) whatever the run store already holds: an
interrupted pipeline picks up where it stopped. Runs on another split than the evaluation one
(the train games of Stage A and the teacher) play `pipeline.train_episodes` episodes; students
are made for `pipeline.regimes`. A step with nothing to work on (no successful episode to train
a student on) says so, the steps that need it are skipped, and the report shows what there is.
With `pipeline.workers=n`, up to n steps whose inputs exist run at once (hintrag.workers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag import stagegraph
from hintrag.envs import make_suite
from hintrag.errors import StepFailed
from hintrag.files import folder_digest
from hintrag.stagespec import WARM_START, Link
from hintrag.store import run_key, upstream, with_values
from hintrag.usage import describe
from hintrag.validate import validate_model
from hintrag.workers import Finished, RunStage, Steps


@dataclass


class Step:
    mode: str
    cfg: DictConfig
    key: str
    needs: list[str] = field(default_factory=list)  # keys of the steps it reads

    @property
    def label(self) -> str:
        return stagegraph.get(self.mode).describe(self.cfg)


def _wanted(link: Link, cfg: DictConfig) -> bool:
    """Every input but the students pipeline.regimes leaves out (the warm start is always made)."""
    regime = link.overrides.get("train.regime")
    return regime is None or link.label == WARM_START or regime in cfg.pipeline.regimes


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


def _skip_lacking(pending: list[Step], made: set[str], skipped: set[str], labels: dict[str, str]) -> None:
    """Skip (and say so) every pending step an input of which was skipped, and so on downstream;
    the report is never skipped: it shows whatever exists."""
    changed = True
    while changed:
        changed = False
        for step in _ready(pending, made | skipped):
            lacking = [labels[need] for need in step.needs if need in skipped]
            if lacking and step.mode != "report":
                print(f"pipeline: skipping '{step.label}': nothing was made by '{', '.join(lacking)}'")
                skipped.add(step.key)
                pending.remove(step)
                changed = True


def beside_others(plan: list[Step]) -> set[str]:
    """The steps that may run beside another: all but those every other step reads or is read by
    (demos, the warm start, the report), which always run alone."""
    ancestors: dict[str, set[str]] = {}
    for step in plan:  # dependency order: a step's needs come before it
        ancestors[step.key] = set(step.needs).union(*(ancestors[need] for need in step.needs))

    def alone(step: Step) -> bool:
        return all(o.key == step.key or o.key in ancestors[step.key] or step.key in ancestors[o.key] for o in plan)
    return {step.key for step in plan if not alone(step)}


def heights(plan: list[Step]) -> dict[str, int]:
    """How many steps wait, one after the other, on each step: those with more go first when steps
    compete for a worker (the teacher on train, which the Distill student waits on, before RAG)."""
    height = {step.key: 0 for step in plan}
    for step in reversed(plan):
        for need in step.needs:
            height[need] = max(height[need], height[step.key] + 1)
    return height


def _ready(pending: list[Step], finished: set[str]) -> list[Step]:
    return [step for step in pending if all(need in finished for need in step.needs)]


def _report_step(step: Step, done: Finished, used: list[dict[str, Any]]) -> None:
    where = (" in a worker process" + (" (OpenMP threads waiting passively)" if done.passive else "")
             if done.worker else "")
    print(f"\npipeline: '{step.label}' took {describe(done.usage)}{where}")
    used.append({"step": step.label, "mode": step.mode, **asdict(done.usage), "worker": done.worker,
                 "passive": done.passive})


def run(cfg: DictConfig, root: Path, run_stage: RunStage) -> dict[str, Any]:
    """Every step once its inputs exist, up to pipeline.workers at once (hintrag.workers), then the report."""
    plan = steps(cfg)
    check(cfg, plan)
    workers = int(cfg.pipeline.workers)
    results: dict[str, Any] = {}
    skipped: set[str] = set()
    failed: list[str] = []
    labels = {step.key: step.label for step in plan}
    by_key = {step.key: step for step in plan}
    used: list[dict[str, Any]] = []  # wall time and peak memory per step run
    beside, height = beside_others(plan), heights(plan)
    pending, runner = list(plan), Steps(run_stage, root, workers)
    try:
        while True:
            if not failed:  # after a failure only the running steps finish
                _skip_lacking(pending, set(results), skipped, labels)
                ready = sorted(_ready(pending, set(results) | skipped), key=lambda s: -height[s.key])
                for step in ready[: max(0, runner.free)]:
                    print(f"pipeline: {step.label} (mode={step.mode})")
                    runner.start(step.key, step.mode, step.cfg, step.label, step.key in beside)
                    pending.remove(step)
            if not runner.running:
                break
            done = runner.wait()
            step = by_key[done.key]
            if done.error:
                print(f"pipeline: '{step.label}' failed:\n{done.error}")
                failed.append(step.label)
                continue
            if done.nothing is not None:
                print(f"pipeline: nothing to do for '{step.label}': {done.nothing}")
                skipped.add(step.key)
            else:
                results[step.key] = done.summary
            _report_step(step, done, used)
    finally:
        runner.stop()
    if failed:
        raise StepFailed(f"pipeline: {'; '.join(failed)} failed (above); the steps that finished are kept, "
                         f"so a rerun resumes from them")
    same = identical_students(plan, results)
    for regimes in same:
        print(f"pipeline: the {' and '.join(regimes)} students were trained on identical examples (the same "
              f"episodes, played the same way), so they are one student and their rows match")
    report = results.get(plan[-1].key, {})
    students = sorted(s.cfg.train.regime for s in plan if s.mode == "train" and s.key in skipped)
    return {"run": report.get("run"), "steps_run": len(results), "students_skipped": students,
            "figure": report.get("figure"), "usage": used, "identical_students": same}
