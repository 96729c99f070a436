"""Run keys follow the result-deciding config; JSONL survives torn writes; rollouts resume."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg, tiny_overrides

from hintrag import store
from hintrag.stages import run_mode


def key(*overrides: str) -> str:
    return store.run_key("rollout", make_cfg("env.data_dir=/d", *overrides))


def test_key_is_stable_and_readable() -> None:
    assert key() == key()
    assert key().startswith("alfworld-react-smollm2-135m-valid_unseen-s0-")


@pytest.mark.parametrize("override", ["seed=1", "model=7b", "split=train", "max_steps=10", "generation=sample",
                                      "agent.fewshot=0", "env.max_repeats=3", "batch_size=1"])
def test_result_deciding_keys_change_the_folder(override: str) -> None:
    assert key(override) != key()


@pytest.mark.parametrize("override", ["n_episodes=100", "backend.prefix_cache=false",
                                      "env.data_dir=/elsewhere", "store.root=/tmp/x", "backend.threads=1"])
def test_speed_and_scope_knobs_share_the_folder(override: str) -> None:
    assert key(override) == key()


def test_torn_last_line_is_dropped_and_repaired(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = store.Run("rollout", "k", tmp_path)
    run.append("t.jsonl", {"episode_id": "a"})
    with (tmp_path / "t.jsonl").open("a") as handle:
        handle.write('{"episode_id": "b", "tr')  # a writer killed mid-line
    assert [r["episode_id"] for r in run.records("t.jsonl")] == ["a"]
    assert "torn" in caplog.text
    run.append("t.jsonl", {"episode_id": "c"})
    assert [r["episode_id"] for r in run.records("t.jsonl")] == ["a", "c"]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(json.JSONDecodeError):
        list(store.read_jsonl(tmp_path / "t.jsonl"))


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store.atomic_write_json(tmp_path / "m.json", {"x": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_interrupted_rollout_resumes_without_duplicates(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=rollout", "n_episodes=4", "max_steps=2",
                   "batch_size=2")
    original = store.Run.append
    written = []

    def crash_after_two(self, name, record):  # the process dies after the 2nd finished episode
        if name != "trajectories.jsonl":  # the run's provenance line
            return original(self, name, record)
        if len(written) == 2:
            raise KeyboardInterrupt
        original(self, name, record)
        written.append(record["episode_id"])

    monkeypatch.setattr(store.Run, "append", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_mode(cfg)
    monkeypatch.setattr(store.Run, "append", original)
    folder = tmp_path / "rollout" / store.run_key("rollout", cfg)
    assert len(store.Run("rollout", "", folder).records("trajectories.jsonl")) == 2

    summary = run_mode(cfg)
    ids = [r["episode_id"] for r in store.Run("rollout", "", folder).records("trajectories.jsonl")]
    assert len(ids) == 4 and len(set(ids)) == 4 and ids[:2] == written
    assert summary["n_episodes"] == 4
    assert (folder / "config.yaml").exists() and (folder / "metrics.json").exists()

    # A third run has nothing to do and must not load a model.
    monkeypatch.setattr("hintrag.play.make_backend", lambda *args: pytest.fail("model loaded"))
    assert run_mode(cfg)["n_episodes"] == 4


def _enter(cfg, root: Path, shard: str, entered) -> None:
    with store.writing("rollout", cfg, root, shard):
        entered.put((shard, time.monotonic()))


def test_a_second_writer_of_a_run_waits_for_the_first_and_another_shard_does_not(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    cfg, entered = make_cfg("env.data_dir=/d"), ctx.Queue()
    with store.writing("rollout", cfg, tmp_path):
        same = ctx.Process(target=_enter, args=(cfg, tmp_path, "", entered))
        other = ctx.Process(target=_enter, args=(cfg, tmp_path, ".shard1of2", entered))
        same.start(), other.start()
        assert entered.get(timeout=60)[0] == ".shard1of2"  # its own lock file: not held up
        time.sleep(1.0)
        assert entered.empty()  # the same run waits while this process writes it
        released = time.monotonic()
    shard, at = entered.get(timeout=60)
    assert shard == "" and at >= released
    same.join(60), other.join(60)


@pytest.mark.slow
def test_two_jobs_asking_for_one_run_at_once_play_it_once(tmp_path: Path, alfworld_data: Path) -> None:
    """Two sweep jobs sharing an upstream stage: the second waits, then finds every episode done."""
    command = [sys.executable, "run.py", "mode=demos", "demos.per_category=1", f"env.data_dir={alfworld_data}",
               f"store.root={tmp_path}"]
    jobs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    logs = [job.communicate(timeout=600)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], logs
    (run,) = (tmp_path / "demos").iterdir()
    records = list(store.read_jsonl(run / "trajectories.jsonl"))
    assert len(records) == 6 and len({r["episode_id"] for r in records}) == 6
    assert sum("being written by another process" in log for log in logs) == 1, logs
