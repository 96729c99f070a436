"""LLM backends: `hf` (transformers), `openai` (any OpenAI-compatible server), `vllm` (GPU). Chosen by `backend=`."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import Backend, Completion, Message, Request

BACKENDS = ("hf", "openai", "vllm")


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


__all__ = ["Backend", "Completion", "Message", "Request", "make_backend", "BACKENDS"]
