"""The vLLM backend against a recording stand-in for vLLM's offline API (LLM, SamplingParams,
TokensPrompt, LoRARequest, RequestOutput), for machines without a GPU such as CI.

This checks our side of the contract: one generate call per step with token-id prompts counted
like the hf backend, prefix caching and tensor parallelism from the config, a student served as a
LoRA request on a GPU and merged weights on CPU, finish reasons and cached-prefix accounting. That
vLLM itself runs is tests/test_vllm_real.py, against the installed engine (vLLM's CPU build in CI).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import make_cfg

from hintrag.llm import Request, make_backend
from hintrag.llm.base import chat_prompt_ids


@dataclass
class FakeChoice:
    text: str
    token_ids: list[int]
    finish_reason: str
    stop_reason: Any


@dataclass
class FakeOutput:
    prompt_token_ids: list[int]
    outputs: list[FakeChoice]
    num_cached_tokens: int


@dataclass
class FakeLLM:
    """Records the engine arguments and every generate call; answers from `ANSWERS` in order."""

    kwargs: dict[str, Any]
    calls: list[tuple] = field(default_factory=list)

    def generate(self, prompts, params, lora_request=None, use_tqdm=True):
        self.calls.append((prompts, params, lora_request))
        return [FakeOutput(p["prompt_token_ids"], [ANSWERS[i]], num_cached_tokens=len(p["prompt_token_ids"]) - 5)
                for i, p in enumerate(prompts)]


ANSWERS = [FakeChoice("look", [1, 2], "stop", None), FakeChoice("go to desk 1\n", [3, 4, 5], "stop", "\n"),
           FakeChoice("open", [6, 7, 8, 9], "length", None)]


@pytest.fixture
def tiny_adapter(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A LoRA adapter on the tiny model whose B matrices are nonzero, so merging changes weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=0.5)
    model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter"


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> list[FakeLLM]:
    engines: list[FakeLLM] = []
    vllm = types.ModuleType("vllm")
    vllm.LLM = lambda **kwargs: engines.append(FakeLLM(kwargs)) or engines[-1]
    vllm.SamplingParams = lambda **kwargs: kwargs
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: {"prompt_token_ids": prompt_token_ids}
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, lora_id, path: (name, lora_id, path)
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(device_type="cuda")
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.StructuredOutputsParams = lambda json: {"json": json}
    modules = {"vllm": vllm, "vllm.inputs": inputs, "vllm.lora": lora, "vllm.lora.request": request,
               "vllm.platforms": platforms, "vllm.sampling_params": sampling}
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object() if name == "vllm" else None)
    return engines


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You play a text game."}, {"role": "user", "content": text}]


def test_one_generate_call_per_step_with_exact_counts(fake_vllm: list[FakeLLM], tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    cfg = make_cfg("backend=vllm", f"model.path={tiny_model_dir}", "model.gguf_file=null", "model.max_context=200",
                   "backend.tensor_parallel_size=2")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    (engine,) = fake_vllm
    assert engine.kwargs["enable_prefix_caching"] is True and engine.kwargs["tensor_parallel_size"] == 2
    assert engine.kwargs["enable_lora"] is False and engine.kwargs["max_model_len"] == 200

    requests = [Request(chat("a"), 8, stop=("\n",)), Request(chat("b"), 8, stop=("\n",)),
                Request(chat("word " * 300), 8), Request(chat("c"), 4)]
    out = backend.generate(requests)
    assert len(engine.calls) == 1  # every running episode of the step in one call
    prompts, params, lora = engine.calls[0]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    expected = [chat_prompt_ids(tokenizer, r.messages) for r in requests]
    assert [p["prompt_token_ids"] for p in prompts] == [expected[i] for i in (0, 1, 3)]  # the too-long one is not sent
    assert params[0]["stop"] == ["\n"] and params[0]["include_stop_str_in_output"] and params[2]["stop"] is None
    assert lora is None
    assert [o.finish_reason for o in out] == ["eos", "stop", "context", "length"]
    assert [o.prompt_tokens for o in out] == [len(e) for e in expected]
    assert [o.completion_tokens for o in out] == [2, 3, 0, 4]
    assert out[0].prefill_tokens == 5 and out[1].text == "go to desk 1\n"
    assert backend.count_prompt_tokens(requests[0].messages) == len(expected[0])


def test_on_cpu_a_student_is_merged_into_a_cached_folder(fake_vllm: list[FakeLLM], tiny_model_dir: Path,
                                                          tiny_adapter: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(sys.modules["vllm.platforms"].current_platform, "device_type", "cpu")
    cfg = make_cfg("backend=vllm", f"model.path={tiny_model_dir}", "model.gguf_file=null",
                   f"model.adapter={tiny_adapter}", f"backend.cache_dir={tmp_path / 'cache'}")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    (engine,) = fake_vllm
    merged = Path(engine.kwargs["model"])
    assert engine.kwargs["enable_lora"] is False and merged.parent == tmp_path / "cache" / "merged"
    backend.generate([Request(chat("a"), 4)])
    assert engine.calls[0][2] is None  # no LoRA request: the weights already hold the student
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    student = AutoModelForCausalLM.from_pretrained(merged).state_dict()
    changed = [k for k in base if not torch.equal(base[k], student[k])]
    assert changed and all("q_proj" in k or "v_proj" in k for k in changed)
    stamp = (merged / "config.json").stat().st_mtime_ns
    make_backend(cfg.backend, cfg.model, cfg.generation)
    assert Path(fake_vllm[1].kwargs["model"]) == merged and (merged / "config.json").stat().st_mtime_ns == stamp


def test_a_student_is_served_as_a_lora_request(fake_vllm: list[FakeLLM], tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = make_cfg("backend=vllm", f"model.path={tiny_model_dir}", "model.gguf_file=null", f"model.adapter={tmp_path}",
                   "lora_rank=16")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    (engine,) = fake_vllm
    assert engine.kwargs["enable_lora"] is True and engine.kwargs["max_lora_rank"] >= 16
    backend.generate([Request(chat("a"), 4)])
    assert engine.calls[0][2] == ("student", 1, str(tmp_path))


def test_engine_settings_follow_the_device() -> None:
    """float32 and eager on CPU like the hf backend, the engine's own choices on a GPU; one KV-cache size."""
    from hintrag.llm.vllm_backend import CPU_KV_CACHE_GB, cpu_environment, engine_options

    backend = make_cfg("backend=vllm").backend
    assert engine_options(backend, cpu=True) == {"dtype": "float32", "enforce_eager": True,
                                                 "kv_cache_memory_bytes": int(CPU_KV_CACHE_GB * 2**30)}
    assert engine_options(backend, cpu=False) == {"dtype": "auto", "enforce_eager": False, "gpu_memory_utilization": 0.9}
    sized = make_cfg("backend=vllm", "backend.kv_cache_gb=1.5", "backend.dtype=bfloat16", "backend.enforce_eager=false",
                     "backend.threads=1").backend
    assert engine_options(sized, cpu=False) == {"dtype": "bfloat16", "enforce_eager": False,
                                                "kv_cache_memory_bytes": int(1.5 * 2**30)}
    four = make_cfg("backend=vllm", "backend.quantization=4bit").backend
    assert engine_options(four, cpu=False)["quantization"] == "bitsandbytes"
    env = cpu_environment(sized)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["VLLM_CPU_OMP_THREADS_BIND"].count("-") <= 1


def test_a_json_schema_request_is_decoded_under_that_schema(fake_vllm: list[FakeLLM], tiny_model_dir: Path) -> None:
    cfg = make_cfg("backend=vllm", f"model.path={tiny_model_dir}", "model.gguf_file=null")
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    schema = {"type": "object", "properties": {"hints": {"type": "array"}}}
    backend.generate([Request(chat("a"), 4, json_schema=schema), Request(chat("b"), 4)])
    _, params, _ = fake_vllm[0].calls[0]
    assert params[0]["structured_outputs"] == {"json": schema} and params[1]["structured_outputs"] is None


def test_the_served_lora_rank_is_the_smallest_vllm_accepts() -> None:
    from hintrag.errors import ConfigError
    from hintrag.llm.vllm_backend import serving_rank

    assert [serving_rank(r) for r in (1, 2, 16, 64, 100, 512)] == [1, 8, 16, 64, 128, 512]
    with pytest.raises(ConfigError, match="largest rank vLLM serves"):
        serving_rank(1024)


def test_the_paper_presets_reranker_is_a_second_engine_beside_the_agents(fake_vllm: list[FakeLLM],
                                                                          tiny_model_dir: Path) -> None:
    """experiment=paper_*: the agent's engine takes 0.7 of the GPU and the separate re-ranker's a
    further 0.2 (vLLM's gpu_memory_utilization is each engine's own share), loaded in 4 bits with
    bitsandbytes as the authors' (quantization="bitsandbytes")."""
    from hintrag.hints.retrieval import rerank_backend

    tiny = [f"model.path={tiny_model_dir}", "model.gguf_file=null", f"retrieval.model.path={tiny_model_dir}",
            "retrieval.model.gguf_file=null"]
    for preset in ("paper_alfworld", "paper_webshop"):
        fake_vllm.clear()
        cfg = make_cfg(f"experiment={preset}", "env.data_dir=/d", *tiny)
        agent = make_backend(cfg.backend, cfg.model, cfg.generation)
        assert rerank_backend(cfg, agent) is not agent
        (agent_engine, reranker) = fake_vllm
        assert agent_engine.kwargs["gpu_memory_utilization"] == 0.7 and "quantization" not in agent_engine.kwargs
        assert reranker.kwargs["gpu_memory_utilization"] == 0.2 and reranker.kwargs["quantization"] == "bitsandbytes"
        assert reranker.kwargs["max_model_len"] == cfg.retrieval.model.max_context
    plain = make_cfg("backend=vllm", "model.gguf_file=null", f"model.path={tiny_model_dir}")
    agent = make_backend(plain.backend, plain.model, plain.generation)
    assert rerank_backend(plain, agent) is agent  # retrieval.model=null: the agent's own engine re-ranks
