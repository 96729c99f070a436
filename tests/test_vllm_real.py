"""The vllm backend against the real engine (vLLM's CPU build here; a GPU build elsewhere).

Skipped where vLLM is not installed (the main environment: vLLM pins its own transformers; the
README's vLLM line makes the environment these run in). Greedy float32 play must equal the hf
backend step by step, and a request carrying a JSON schema must come back as JSON of that shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_cfg

pytest.importorskip("vllm")
pytestmark = pytest.mark.slow

from hintrag import store  # noqa: E402
from hintrag.hints.extract import HINTS_SCHEMA  # noqa: E402
from hintrag.llm import Request, make_backend  # noqa: E402
from hintrag.stages import run_mode  # noqa: E402

VOLATILE = ("wall_s",)


def played(root: Path, alfworld_data: Path, backend: str) -> list[dict]:
    cfg = make_cfg("mode=rollout", f"backend={backend}", "n_episodes=2", "max_steps=3", f"store.root={root}",
                   f"env.data_dir={alfworld_data}")
    summary = run_mode(cfg)
    records = store.read_jsonl(Path(summary["run"]) / "trajectories.jsonl")
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in records), key=lambda r: r["episode_id"])


def test_rollout_equals_the_hf_backend_step_by_step(tmp_path: Path, alfworld_data: Path) -> None:
    hf = played(tmp_path, alfworld_data, "hf")
    vllm = played(tmp_path, alfworld_data, "vllm")
    assert len(hf) == 2 and [r["trace"] for r in vllm] == [r["trace"] for r in hf]
    assert vllm == hf  # tokens, end reasons, prompts: everything but the wall time


def test_a_json_schema_request_is_answered_with_json_of_that_shape() -> None:
    cfg = make_cfg("backend=vllm")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    messages = [{"role": "user", "content": "Give two short tips for cooking rice as JSON."}]
    (out,) = backend.generate([Request(messages, 256, json_schema=HINTS_SCHEMA)])
    answer = json.loads(out.text)
    assert isinstance(answer["hints"], list) and all({"text", "type"} <= set(h) for h in answer["hints"])
