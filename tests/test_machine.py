"""Every run folder says which machine wrote into it, outside the key; a run written from two kinds
of machine is flagged; the pipeline says when two students learnt from identical examples."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from conftest import make_cfg
from omegaconf import OmegaConf

from hintrag import machine, store
from hintrag.stages.pipeline import Step, identical_students


def _cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str, model: str = "Test CPU") -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n")
    monkeypatch.setattr(machine, "_CPUINFO", info)


@pytest.mark.parametrize("flags, expected", [("fpu avx512f avx512_bf16 amx_bf16 amx_tile", "amx"),
                                             ("fpu avx512f avx512_bf16", "avx512_bf16"), ("fpu sse2 avx2", "none")])
def test_cpu_bf16_reads_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str, expected: str) -> None:
    _cpuinfo(tmp_path, monkeypatch, flags)
    assert machine.cpu_bf16() == expected
    assert machine.native_bf16() is (expected != "none")


def test_gpus_are_read_from_the_driver_without_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = tmp_path / "nvidia" / "0000:01:00.0"
    gpu.mkdir(parents=True)
    (gpu / "information").write_text("Model: \t\t NVIDIA H200\nIRQ: 1\n")
    monkeypatch.setattr(machine, "_NVIDIA", tmp_path / "nvidia")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert machine.accelerators() == ("NVIDIA H200",)
    monkeypatch.setattr(machine, "_NVIDIA", tmp_path / "absent")
    assert machine.accelerators() == ()


def test_opening_a_run_appends_its_machine_outside_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cpuinfo(tmp_path, monkeypatch, "fpu amx_bf16", model="Intel Test")
    cfg = make_cfg("env.data_dir=/d")
    first = store.open_run("rollout", cfg, tmp_path / "store")
    again = store.open_run("rollout", cfg, tmp_path / "store")
    assert again.path == first.path
    lines = [json.loads(line) for line in (first.path / machine.PROVENANCE).read_text().splitlines()]
    assert len(lines) == 2 and {line["stage"] for line in lines} == {"rollout"}
    assert lines[0]["cpu"] == "Intel Test" and lines[0]["bf16"] == "amx"
    assert lines[0]["kind"].startswith("Intel Test (bf16: amx); ")
    assert set(lines[0]["packages"]) == set(machine.PACKAGES) and lines[0]["packages"]["torch"]
    assert "provenance" not in json.dumps(store.signature("rollout", cfg))


def test_a_run_written_on_two_kinds_of_machine_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_cfg("env.data_dir=/d")
    root = tmp_path / "store"
    _cpuinfo(tmp_path, monkeypatch, "fpu amx_bf16", model="Intel Test")
    store.open_run("rollout", cfg, root)
    with caplog.at_level(logging.WARNING):
        store.open_run("rollout", cfg, root)
    assert "kinds of machine" not in caplog.text
    _cpuinfo(tmp_path, monkeypatch, "fpu avx512_bf16", model="AMD Test")
    with caplog.at_level(logging.WARNING):
        run = store.open_run("rollout", cfg, root)
    assert "written on 2 kinds of machine" in caplog.text and "AMD Test (bf16: avx512_bf16)" in caplog.text
    assert machine.kinds(store.read_jsonl(run.path / machine.PROVENANCE))[0].startswith("Intel Test")


def _student(tmp_path: Path, regime: str, rows: list[dict]) -> tuple[Step, dict]:
    folder = tmp_path / regime
    (folder / "dataset").mkdir(parents=True)
    (folder / "dataset" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = OmegaConf.create({"train": {"regime": regime}})
    return Step("train", cfg, f"train/{regime}"), {"run": str(folder)}


def test_students_on_identical_examples_are_named(tmp_path: Path) -> None:
    one = [{"episode_id": "fixed_1512", "messages": [{"role": "assistant", "content": "click[Buy Now]"}]}]
    plan, results = [], {}
    for regime, rows in [("bc", one), ("sft", one), ("distill", one)]:
        step, made = _student(tmp_path, regime, rows)
        plan.append(step)
        results[step.key] = made
    assert identical_students(plan, results) == [["distill", "sft"]]  # the warm start is not a student
    other = [{"episode_id": "fixed_7", "messages": [{"role": "assistant", "content": "search[x]"}]}]
    (tmp_path / "distill" / "dataset" / "train.jsonl").write_text(json.dumps(other[0]) + "\n")
    assert identical_students(plan, results) == []
    assert identical_students(plan, {plan[1].key: results[plan[1].key]}) == []  # a student not trained


@pytest.mark.parametrize("flags, gpus, device, expected", [
    ("fpu avx512_bf16 amx_bf16", False, "auto", "bfloat16"), ("fpu avx512_bf16", False, "cpu", "bfloat16"),
    ("fpu sse2 avx2", False, "auto", "float32"), ("fpu sse2 avx2", False, "cpu", "float32"),
    ("fpu sse2 avx2", True, "auto", "bfloat16"), ("fpu sse2 avx2", True, "cuda:0", "bfloat16"),
    ("fpu sse2 avx2", True, "cpu", "float32")])
def test_bf16_if_native_follows_the_device_that_runs_the_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str, gpus: bool, device: str, expected: str) -> None:
    _cpuinfo(tmp_path, monkeypatch, flags)
    if gpus:
        (tmp_path / "nvidia" / "0000:01:00.0").mkdir(parents=True)
        (tmp_path / "nvidia" / "0000:01:00.0" / "information").write_text("Model: \t\t NVIDIA H200\n")
    monkeypatch.setattr(machine, "_NVIDIA", tmp_path / "nvidia")
    assert machine.bf16_if_native(device) == expected


@pytest.mark.parametrize("preset", ["quick_webshop", "small_webshop", "small_alfworld"])
@pytest.mark.parametrize("flags, dtype", [("fpu avx512_bf16 amx_bf16", "bfloat16"), ("fpu sse2 avx2", "float32")])
def test_small_presets_hash_the_dtype_that_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 preset: str, flags: str, dtype: str) -> None:
    """The preset's `${bf16_if_native:...}` is resolved before hashing: on a native-bf16 CPU its keys are
    those of the literal `bfloat16` (the measured runs in docs/results/), elsewhere those of `float32`; the
    local extractor follows."""
    _cpuinfo(tmp_path, monkeypatch, flags)
    monkeypatch.setattr(machine, "_NVIDIA", tmp_path / "absent")
    preset_cfg = make_cfg(f"experiment={preset}")
    literal = make_cfg(f"experiment={preset}", f"backend.dtype={dtype}")
    assert (preset_cfg.backend.dtype, preset_cfg.extractor.backend.dtype) == (dtype, dtype)
    for stage in ("rollout", "extract", "teacher", "eval", "report"):
        assert store.run_key(stage, preset_cfg) == store.run_key(stage, literal)
    other = "float32" if dtype == "bfloat16" else "bfloat16"
    assert store.run_key("rollout", preset_cfg) != store.run_key(
        "rollout", make_cfg(f"experiment={preset}", f"backend.dtype={other}"))


def test_emulated_bf16_is_named_once_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from hintrag import validate
    from hintrag.stages import MODES

    _cpuinfo(tmp_path, monkeypatch, "fpu sse2 avx2")
    monkeypatch.setattr(machine, "_NVIDIA", tmp_path / "absent")
    monkeypatch.setattr(validate, "_warned", set())
    cfg = make_cfg("mode=rollout", "backend.dtype=bfloat16", "extractor.backend.dtype=bfloat16", "train.dtype=bfloat16")
    with caplog.at_level(logging.WARNING, logger="hintrag.validate"):
        validate.validate_common(cfg, tuple(MODES))
        validate.validate_common(cfg, tuple(MODES))
    warned = [r.getMessage() for r in caplog.records if "emulated" in r.getMessage()]
    assert [m.split("=")[0] for m in warned] == ["backend.dtype", "extractor.backend.dtype", "train.dtype"]
    assert all("=float32" in m for m in warned)
    caplog.clear()
    monkeypatch.setattr(validate, "_warned", set())
    _cpuinfo(tmp_path, monkeypatch, "fpu avx512_bf16")
    with caplog.at_level(logging.WARNING, logger="hintrag.validate"):
        validate.validate_common(cfg, tuple(MODES))
        validate.validate_common(make_cfg("mode=rollout"), tuple(MODES))  # auto is float32 on a CPU: never emulated
    assert not [r for r in caplog.records if "emulated" in r.getMessage()]


@pytest.mark.parametrize("preset, expected", [({}, "8 8"), ({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}, "64 8")])
def test_importing_hintrag_caps_the_cpu_kernel_caches_unless_the_user_did(preset: dict, expected: str) -> None:
    """The shape-keyed kernel caches grow a training run's memory with every new example length
    (docs/results/small_alfworld.md); hintrag caps them before any kernel is built, a user's value wins."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in machine.KERNEL_CACHES} | preset
    code = "import os, hintrag; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'], os.environ['LRU_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
