"""Bad input fails fast with one message naming the fix."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg

from hintrag.errors import ConfigError
from hintrag.stages import run_mode


def test_unknown_mode_lists_valid_modes(alfworld_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown mode .dance.; valid modes: pipeline, rollout, extract, teacher, bank, train, eval, report"):
        run_mode(make_cfg("mode=dance", f"env.data_dir={alfworld_data}"))


@pytest.mark.parametrize("data_dir", ["null", "/no/such/dir"])
def test_missing_data_names_the_setting_and_download(tmp_path: Path, data_dir: str) -> None:
    with pytest.raises(ConfigError, match=r"env.data_dir.*alfworld-download"):
        run_mode(make_cfg(f"env.data_dir={data_dir}", f"store.root={tmp_path}"))


@pytest.mark.parametrize("override,match", [("n_episodes=0", "n_episodes"), ("max_steps=0", "max_steps"),
                                            ("batch_size=-1", "batch_size"), ("split=test", "split")])
def test_bad_numbers_and_splits(tmp_path: Path, alfworld_data: Path, override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_mode(make_cfg(override, f"env.data_dir={alfworld_data}", f"store.root={tmp_path}"))


def test_missing_model_folder(tmp_path: Path, alfworld_data: Path) -> None:
    cfg = make_cfg("model.path=/no/model", "model.gguf_file=null", f"env.data_dir={alfworld_data}",
                   f"store.root={tmp_path}", "n_episodes=1")
    with pytest.raises(ConfigError, match="model.path"):
        run_mode(cfg)


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "run.py", "mode=dance", f"store.root={tmp_path}"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown mode 'dance'")
    assert "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 30


def test_vllm_without_vllm_fails_at_once_with_the_install_line(tmp_path: Path, alfworld_data: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r'backend=vllm needs vLLM.*pip install -e "\.\[gpu\]"'):
        run_mode(make_cfg("backend=vllm", "mode=rollout", f"env.data_dir={alfworld_data}", f"store.root={tmp_path}"))
    assert time.perf_counter() - started < 5
