"""LLM backends: `hf` (transformers). Chosen by `backend=` in the config."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import Backend, Completion, Message, Request

BACKENDS = ("hf",)


def make_backend(cfg: DictConfig) -> Backend:
    """Build the configured backend; this is where model weights load."""
    name = cfg.backend.name
    if name == "hf":
        from hintrag.llm.hf import HFBackend

        return HFBackend(cfg.model, cfg.backend, cfg.generation)
    raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)} (backend=...)")


__all__ = ["Backend", "Completion", "Message", "Request", "make_backend", "BACKENDS"]
