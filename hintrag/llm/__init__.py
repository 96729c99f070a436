"""LLM backends: `hf` (transformers), `openai` (any OpenAI-compatible server), `vllm` (GPU). Chosen by `backend=`."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import Backend, Completion, Message, Request

BACKENDS = ("hf", "openai", "vllm")
LOCAL = ("hf", "vllm")  # backends that load the weights themselves (so a warm start can be merged in)
QUANTIZATIONS = ("4bit",)  # backend.quantization of a local engine (null: as stored); a server decides its own

# Keys of each backend that do not decide what the model answers, so run keys leave them out.
# Hashed: `name` and `dtype` (engines and precisions can differ in the last bit, which flips
# greedy picks), `max_model_len` (where episodes are cut), `structured_output` (how JSON is decoded).
NOT_RESULT: dict[str, dict[str, str]] = {
    "hf": {
        "device": "where it runs (the numerics follow backend.dtype, which is hashed; pin it when mixing devices)",
        "prefix_cache": "speed: reusing an episode's KV cache gives the same tokens (tests/test_hf_backend.py)",
        "threads": "speed", "cache_dir": "where converted weights are cached",
    },
    "vllm": {
        "tensor_parallel_size": "speed", "gpu_memory_utilization": "memory", "kv_cache_gb": "memory",
        "prefix_caching": "speed", "threads": "speed",
        "max_lora_rank": "serving capacity (follows train.lora_rank)", "enforce_eager": "speed",
        "seed": "alias of the top-level seed, which is hashed", "cache_dir": "where converted weights are cached",
    },
    "openai": {
        "base_url": "where the server is; the model it serves is model.served_name/model.path, hashed",
        "api_key_env": "a credential's name", "require_key": "a start-up check", "max_retries": "fault handling",
        "timeout_s": "fault handling", "concurrency": "speed",
    },
}


def not_result(backend: DictConfig) -> dict[str, str]:
    """`backend` keys outside every run key, with the reason, for the configured engine."""
    return NOT_RESULT.get(str(backend.name), {})


def batch_not_result(backend: DictConfig) -> dict[str, str]:
    """`batch_size` where it cannot change an answer. A local engine decodes a batch together, and in
    bfloat16 a greedy pick can depend on its batch mates (2 of 10 WebShop goals played differently at
    batch 1 and 8: docs/results/bf16_batching.md), so there it is hashed; a server answers each request alone."""
    return {} if is_local(backend) else {"batch_size": "requests sent at once to a server, which answers each alone"}


def is_local(backend: DictConfig) -> bool:
    """Whether this engine loads `model`'s weights here (not a server's)."""
    return str(backend.name) in LOCAL


def make_backend(backend: DictConfig, model: DictConfig, generation: DictConfig) -> Backend:
    """Build a backend for one model; for `hf` this is where weights load."""
    name = backend.name
    if name == "hf":
        from hintrag.llm.hf import HFBackend

        return HFBackend(model, backend, generation)
    if name == "openai":
        from hintrag.llm.openai_api import OpenAIBackend

        return OpenAIBackend(model, backend, generation)
    if name == "vllm":
        from hintrag.llm.vllm_backend import VLLMBackend

        return VLLMBackend(model, backend, generation)
    raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)} (backend=...)")


__all__ = ["Backend", "Completion", "Message", "Request", "batch_not_result", "is_local", "make_backend", "not_result",
           "BACKENDS", "QUANTIZATIONS"]
