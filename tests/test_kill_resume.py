"""SIGKILL each stage at a random point, rerun the same command, compare with an uninterrupted run.

One uninterrupted chain (rollout -> extract -> teacher -> train -> eval, tiny model, Stage B's
extractor a scripted OpenAI-compatible server) is the reference. For each stage, a copy of the
reference store without that stage's run is made; the stage is started as `python run.py ...`,
killed with SIGKILL at a random point, and started again. Then: no finished episode (proposal)
lost or duplicated, the records equal the reference's, the bank and the training data are the
same files, training went on from the last complete checkpoint.

The kill point: after a random number j of the stage's items (episodes, proposals, checkpoints)
is written, a random delay shorter than the shortest gap between items of the reference, so the
kill lands anywhere inside item j+1 (model load and env start-up for j = 0; mid-save for a
checkpoint). The seed is printed and can be fixed with HINTRAG_KILL_SEED.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import ROOT, tiny_overrides
from openai_server import FaultServer, scripted_hints

from hintrag import store

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("HINTRAG_KILL_SEED", time.time_ns() % 2**31))
VOLATILE = ("wall_s",)  # the only record field that differs between two identical greedy runs


@dataclass
class Stage:
    mode: str
    overrides: list[str]
    items: Callable[[Path], int]  # how many items the stage has written so far under its folder


def jsonl_lines(name: str) -> Callable[[Path], int]:
    return lambda folder: sum(f.read_bytes().count(b"\n") for f in folder.glob(f"*/{name}"))


def checkpoint_steps(folder: Path) -> int:
    """Checkpoint folders appear when saving starts; older ones are rotated away, so count by step."""
    return max((int(p.name.split("-")[1]) for p in folder.glob("*/checkpoints/checkpoint-*")), default=0)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, alfworld_data: Path):
    server = FaultServer(reply=scripted_hints, delay_s=0.3)
    extractor = ["extractor=gpt-4o", f"extractor.backend.base_url={server.url}", "extractor.backend.max_retries=0"]
    trainer = ["train.regime=distill", "train.min_reward=0", "train.batch_size=1", "train.grad_accum=1",
               "train.save_steps=1", "train.epochs=2", "lora_rank=4"]
    common = ["max_steps=4", "batch_size=1", *extractor, *trainer]
    stages = [
        Stage("rollout", ["split=train", "n_episodes=5"], jsonl_lines("trajectories.jsonl")),
        Stage("extract", [], jsonl_lines("proposals.jsonl")),
        Stage("teacher", ["split=train", "n_episodes=5"], jsonl_lines("trajectories.jsonl")),
        Stage("train", [], checkpoint_steps),
        Stage("eval", ["n_episodes=4"], jsonl_lines("trajectories.jsonl")),
    ]
    reference = tmp_path_factory.mktemp("reference")
    timings = {}
    for stage in stages:
        timings[stage.mode] = watch(command(stage, common, tiny_model_dir, alfworld_data, reference), reference / stage.mode,
                                    stage.items)
    yield {s.mode: s for s in stages}, common, reference, timings, (tiny_model_dir, alfworld_data)
    server.close()


def command(stage: Stage, common: list[str], model: Path, data: Path, root: Path) -> list[str]:
    return [sys.executable, "run.py", f"mode={stage.mode}", *tiny_overrides(model, data, root), *common, *stage.overrides]


def environment() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-kill-test", "HF_HUB_OFFLINE": "1"}


def watch(cmd: list[str], folder: Path, items: Callable[[Path], int]) -> list[float]:
    """Run to the end; return the seconds after start at which each item appeared."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[float] = []
    while proc.poll() is None:
        seen += [time.perf_counter() - started] * (items(folder) - len(seen))
        time.sleep(0.01)
    out = proc.stdout.read()
    assert proc.returncode == 0, out
    seen += [time.perf_counter() - started] * (items(folder) - len(seen))
    return seen


def kill_at_random_point(cmd: list[str], folder: Path, items: Callable[[Path], int],
                         reference: list[float], rng: random.Random) -> tuple[int, float] | None:
    """Start, wait for j items, wait a random part of the shortest gap, SIGKILL. Returns (j, delay),
    or None when this run was quicker than the reference and ended before the kill point."""
    assert len(reference) >= 2, "the reference run must write at least two items"
    gaps = [b - a for a, b in zip([0.0, *reference], reference)]
    j = rng.randrange(len(reference))
    delay = rng.uniform(0, 0.8 * min(gaps))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.perf_counter() + 300
    while items(folder) < j and proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    if proc.poll() is not None:
        return None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return j, delay


def restart(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def records(path: Path) -> list[dict[str, Any]]:
    """Complete lines only: the killed writer may have left a torn last line (dropped by read_jsonl)."""
    return list(store.read_jsonl(path))


def steady(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in recs]


def killed_run(chain, mode: str, tmp_path: Path) -> tuple[list[str], Path, Path, str]:
    """A copy of the reference store without the stage's own run (its upstream runs are there, its
    result is not), the stage started on it and killed at a random point. Returns the command, the
    killed run's folder, the reference run's folder and where the kill landed."""
    stages, common, reference, timings, (model, data) = chain
    rng = random.Random(f"{SEED}-{mode}")
    (ref_run,) = (reference / mode).iterdir()
    for attempt in range(3):  # a draw the run outpaced is drawn again on a fresh copy
        root = tmp_path / f"store{attempt}"
        shutil.copytree(reference, root, ignore=shutil.ignore_patterns("hydra"))
        shutil.rmtree(root / mode)
        cmd = command(stages[mode], common, model, data, root)
        point = kill_at_random_point(cmd, root / mode, stages[mode].items, timings[mode], rng)
        if point:
            return cmd, root / mode / ref_run.name, ref_run, f"after {point[0]} items + {point[1]:.2f}s (seed {SEED})"
    pytest.fail(f"{mode} ended before each of 3 kill points (seed {SEED})")


@pytest.mark.parametrize("mode,items_file", [("rollout", "trajectories.jsonl"), ("teacher", "trajectories.jsonl"),
                                             ("eval", "trajectories.jsonl"), ("extract", "proposals.jsonl")])
def test_killed_stage_loses_and_duplicates_nothing(chain, tmp_path: Path, mode: str, items_file: str) -> None:
    cmd, run, ref_run, point = killed_run(chain, mode, tmp_path)
    print(f"{mode}: killed {point}")
    before = records(run / items_file)

    restart(cmd)
    after = records(run / items_file)
    expected = records(ref_run / items_file)
    assert after[: len(before)] == before, "a record finished before the kill was changed or lost"
    ids = [r["episode_id"] for r in after]
    assert len(ids) == len(set(ids)), f"duplicated episodes after resume (seed {SEED})"
    assert steady(after) == steady(expected), f"resumed run differs from the uninterrupted one (seed {SEED})"
    if mode == "extract":
        assert (run / "bank.json").read_text() == (ref_run / "bank.json").read_text()
        assert json.loads((run / "bank.json").read_text())["hints"], "the scripted extractor must give a real bank"
    else:
        assert json.loads((run / "metrics.json").read_text())["n_episodes"] == len(expected)


def last_complete_step(checkpoints: Path) -> int | None:
    steps = []
    for folder in checkpoints.glob("checkpoint-*"):
        try:
            state = json.loads((folder / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        steps.append(state["global_step"])
    return max(steps, default=None)


def test_killed_training_resumes_from_its_last_complete_checkpoint(chain, tmp_path: Path) -> None:
    cmd, run, ref_run, point = killed_run(chain, "train", tmp_path)
    resumable = last_complete_step(run / "checkpoints")  # None when no checkpoint was written
    print(f"train: killed {point}; last complete checkpoint: {resumable}")
    assert not (run / "adapter").exists()

    restart(cmd)
    metrics = json.loads((run / "metrics.json").read_text())
    expected = json.loads((ref_run / "metrics.json").read_text())
    if resumable is None:
        assert metrics["resumed_from"] is None
    else:
        assert metrics["resumed_from"].endswith(f"checkpoint-{resumable}"), (metrics["resumed_from"], SEED)
    assert metrics["steps"] == expected["steps"] and (run / "adapter" / "adapter_model.safetensors").is_file()
    written = sorted(p.relative_to(ref_run) for p in [*ref_run.glob("dataset/*.jsonl"), ref_run / "manifest.json"])
    assert written == sorted(p.relative_to(run) for p in [*run.glob("dataset/*.jsonl"), run / "manifest.json"])
    for name in written:
        assert (run / name).read_bytes() == (ref_run / name).read_bytes(), name
    assert not list(run.glob(".adapter.*")), "a half-written adapter of the killed run was left behind"
