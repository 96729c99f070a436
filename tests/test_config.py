"""Every config group option composes; presets compose; aliases point where they say."""

from __future__ import annotations

import pytest
from conftest import CONF, make_cfg
from omegaconf import OmegaConf

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra",))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group: str, option: str) -> None:
    cfg = make_cfg(f"{group}={option}", "env.data_dir=/nowhere")
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    if group != "experiment":
        assert cfg[group].name


def test_defaults() -> None:
    cfg = make_cfg()
    assert (cfg.mode, cfg.env.name, cfg.agent.name, cfg.model.name, cfg.backend.name) == (
        "pipeline", "alfworld", "react", "smollm2-135m", "hf")
    assert cfg.max_steps == 50 and cfg.env.max_repeats == 5 and cfg.generation.temperature == 0.0


@pytest.mark.parametrize("alias,target", [("qwen2.5-7b", "7b"), ("qwen2.5-14b", "14b")])
def test_model_aliases(alias: str, target: str) -> None:
    assert make_cfg(f"model={alias}").model == make_cfg(f"model={target}").model


def test_paper_models_named() -> None:
    assert make_cfg("model=7b").model.path == "Qwen/Qwen2.5-7B-Instruct"
    assert make_cfg("model=14b").model.path == "Qwen/Qwen2.5-14B-Instruct"


def test_unknown_group_option_is_a_clear_hydra_error() -> None:
    with pytest.raises(Exception, match="env"):
        make_cfg("env=nosuchenv")
