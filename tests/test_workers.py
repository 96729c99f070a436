"""pipeline.workers: steps whose inputs exist run side by side, each in a worker process with the
thread count of one worker (OpenMP waiting passively where it may share the cores); no step starts
before its inputs are made; a failure stops the pipeline."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from conftest import make_cfg, tiny_overrides
from omegaconf import DictConfig

from hintrag.errors import NothingToDo, StepFailed
from hintrag.llm.models import _write_folder
from hintrag.stages import pipeline
from hintrag.workers import environment


def name(mode: str, cfg: DictConfig) -> str:
    return f"{mode}:{cfg.split}:{cfg.train.regime if mode in ('train', 'eval') else '-'}"


def record_stage(mode: str, cfg: DictConfig, root: Path) -> dict:
    """A stand-in stage (importable by spawned workers): notes its start and end, pid and threads.
    With `meet` in the store, the two Stage A rollouts each wait for the other to have started,
    which only two steps running at once can do; `nothing-<mode>` and `fail-<mode>` make it stop."""
    me = name(mode, cfg)
    with (root / "calls.jsonl").open("a") as out:
        out.write(json.dumps({"step": me, "at": "start", "t": time.time(), "pid": os.getpid(),
                              "threads": torch.get_num_threads(), "wait": os.environ.get("OMP_WAIT_POLICY")}) + "\n")
    if mode == "rollout" and (root / "meet").exists():
        (root / f"started-{cfg.split}").touch()
        deadline = time.time() + 60
        while len(list(root.glob("started-*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(list(root.glob("started-*"))) == 2, "the other Stage A run never started beside this one"
    if (root / f"nothing-{mode}").exists() and cfg.train.regime == "sft":
        raise NothingToDo("no successful episode")
    if (root / f"fail-{mode}").exists():
        raise RuntimeError(f"{mode} broke")
    time.sleep(0.2)
    with (root / "calls.jsonl").open("a") as out:
        out.write(json.dumps({"step": me, "at": "end", "t": time.time()}) + "\n")
    return {"run": str(root), "figure": None}


def calls(root: Path) -> dict[str, dict[str, dict]]:
    made: dict[str, dict[str, dict]] = {}
    for line in (root / "calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        made.setdefault(call["step"], {})[call["at"]] = call
    return made


def assert_after_inputs(made: dict[str, dict[str, dict]], plan: list[pipeline.Step]) -> None:
    """No step started before every step it reads had ended."""
    for step in plan:
        for need in step.needs:
            needed = next(s for s in plan if s.key == need)
            assert made[name(step.mode, step.cfg)]["start"]["t"] >= made[name(needed.mode, needed.cfg)]["end"]["t"]


def pipeline_cfg(tiny_model_dir: Path, alfworld_data: Path, root: Path, workers: int) -> DictConfig:
    return make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, root), "mode=pipeline",
                    f"pipeline.workers={workers}")


def test_a_variable_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("HINTRAG_TEST_VAR", raising=False)
    with environment({"OMP_WAIT_POLICY": "PASSIVE", "HINTRAG_TEST_VAR": "1"}):
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and os.environ["HINTRAG_TEST_VAR"] == "1"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and "HINTRAG_TEST_VAR" not in os.environ


def test_independent_steps_run_side_by_side_and_none_before_its_inputs(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    (tmp_path / "meet").touch()
    cfg = pipeline_cfg(tiny_model_dir, alfworld_data, tmp_path, 2)
    result = pipeline.run(cfg, tmp_path, record_stage)
    made = calls(tmp_path)
    plan = pipeline.steps(cfg)
    assert len(made) == len(plan) and all("end" in c for c in made.values())  # every step, each once
    assert_after_inputs(made, plan)
    both = [made[f"rollout:{cfg.split}:-"]["start"], made["rollout:train:-"]["start"]]
    threads = torch.get_num_threads()  # one worker's count: the same batches, the same sums
    assert all(c["pid"] != os.getpid() and c["threads"] == threads and c["wait"] == "PASSIVE" for c in both)
    alone = made[f"report:{cfg.split}:-"]["start"]
    assert alone["threads"] == threads and alone["wait"] is None  # never beside another: OpenMP's own waits
    assert result["students_skipped"] == [] and len(result["usage"]) == len(plan)
    assert all(u["worker"] for u in result["usage"]) and sum(u["passive"] for u in result["usage"]) == len(plan) - 1


def test_one_worker_runs_every_step_in_this_process_one_after_the_other(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path
) -> None:
    cfg = pipeline_cfg(tiny_model_dir, alfworld_data, tmp_path, 1)
    pipeline.run(cfg, tmp_path, record_stage)
    made, plan = calls(tmp_path), pipeline.steps(cfg)
    assert len(made) == len(plan) and {c["start"]["pid"] for c in made.values()} == {os.getpid()}
    assert_after_inputs(made, plan)
    starts = sorted(c["start"]["t"] for c in made.values())
    ends = sorted(c["end"]["t"] for c in made.values())
    assert all(end <= start for end, start in zip(ends, starts[1:]))  # never two at once


@pytest.mark.parametrize("workers", [1, 2])
def test_a_student_with_nothing_to_learn_from_is_skipped_with_its_evaluation(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, workers: int
) -> None:
    (tmp_path / "nothing-train").touch()
    cfg = pipeline_cfg(tiny_model_dir, alfworld_data, tmp_path, workers)
    result = pipeline.run(cfg, tmp_path, record_stage)
    made, split = calls(tmp_path), cfg.split
    assert result["students_skipped"] == ["sft"]
    assert "end" not in made[f"train:{split}:sft"] and f"eval:{split}:sft" not in made
    assert "end" in made[f"eval:{split}:distill"] and "end" in made[f"report:{split}:-"]


def test_a_failed_step_stops_the_pipeline_once_the_running_steps_end(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "fail-extract").touch()
    cfg = pipeline_cfg(tiny_model_dir, alfworld_data, tmp_path, 2)
    with pytest.raises(StepFailed, match="Stage B.*failed.*a rerun resumes"):
        pipeline.run(cfg, tmp_path, record_stage)
    made = calls(tmp_path)
    assert "RuntimeError: extract broke" in capsys.readouterr().out  # the worker's traceback
    assert not [s for s in made if s.startswith(("teacher", "report"))]  # nothing downstream started
    assert all("end" in c for s, c in made.items() if s != f"extract:{cfg.split}:-")  # what was running finished


def test_a_folder_another_process_wrote_first_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "merged"

    def save(folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        if not target.exists():  # the other process renames its copy while this one is still saving
            target.mkdir()
            (target / "config.json").write_text('{"first": true}')

    _write_folder(target, save)
    assert json.loads((target / "config.json").read_text()) == {"first": True}
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]  # this process's copy is gone
