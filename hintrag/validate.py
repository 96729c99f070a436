"""Checks that run before any model loads, so bad input fails in seconds with a message naming the fix."""

from __future__ import annotations

import logging

from omegaconf import DictConfig, OmegaConf

from hintrag.agents import AGENTS
from hintrag.envs import ENVS
from hintrag.episodes import REPEAT_ON
from hintrag.errors import ConfigError
from hintrag.hints.retrieval import RETRIEVERS, reranker_engine
from hintrag.llm import BACKENDS, LOCAL, QUANTIZATIONS
from hintrag.llm.base import RANKERS
from hintrag.llm.models import resolve_source
from hintrag import stagegraph
from hintrag.machine import emulated_bf16

log = logging.getLogger(__name__)
_warned: set[str] = set()  # keys already warned about in this process (the pipeline validates every step)


def _positive(cfg: DictConfig, key: str, allow_null: bool = False) -> None:
    value = OmegaConf.select(cfg, key)
    if value is None and allow_null:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}={value!r} must be a whole number >= 1{' or null' if allow_null else ''}")


def validate_common(cfg: DictConfig, modes: tuple[str, ...]) -> None:
    """Mode, group choices and numeric knobs; cheap checks shared by every stage."""
    if cfg.mode not in modes:
        raise ConfigError(f"unknown mode {cfg.mode!r}; valid modes: {', '.join(modes)} (mode=...)")
    for group, known in (("env", ENVS), ("agent", AGENTS), ("backend", BACKENDS), ("retrieval", RETRIEVERS)):
        if cfg[group].name not in known:
            raise ConfigError(f"unknown {group} {cfg[group].name!r}; choose one of {', '.join(known)} ({group}=...)")
    _positive(cfg, "n_episodes", allow_null=True)
    _positive(cfg, "pipeline.train_episodes", allow_null=True)
    _positive(cfg, "max_steps")
    _positive(cfg, "batch_size")
    _positive(cfg, "teacher.k")
    _positive(cfg, "train.lora_rank")
    _choices(cfg)
    from hintrag.shards import shard_of

    shard_of(cfg)
    if int(cfg.env.max_repeats) < 1:
        raise ConfigError(f"env.max_repeats={cfg.env.max_repeats} must be >= 1")
    if cfg.env.get("repeat_on", "action") not in REPEAT_ON:
        raise ConfigError(f"env.repeat_on={cfg.env.repeat_on!r}; choose one of {', '.join(REPEAT_ON)}")
    if float(cfg.generation.temperature) < 0:
        raise ConfigError(f"generation.temperature={cfg.generation.temperature} must be >= 0")
    if cfg.agent.get("act") == "rank" and cfg.backend.name not in RANKERS:
        raise ConfigError(f"agent.act=rank scores each candidate action by its log-probability, which backend="
                          f"{', '.join(RANKERS)} computes and backend={cfg.backend.name} does not; use backend=hf "
                          f"or agent.act=generate")
    if cfg.backend.name == "vllm":
        from hintrag.llm.vllm_backend import require_vllm

        require_vllm()
    if str(cfg.backend.get("device", "")).startswith("cuda") and not _gpu():
        raise ConfigError(f"backend.device={cfg.backend.device} but no CUDA GPU is visible; use backend.device=cpu")
    _quantization(cfg.backend, "backend.quantization")
    _reranker(cfg)
    if cfg.train.quantization not in ("auto", "4bit", "none"):
        raise ConfigError(f"train.quantization={cfg.train.quantization!r}; choose auto, 4bit or none")
    if cfg.train.dtype not in ("auto", "float32", "bfloat16"):
        raise ConfigError(f"train.dtype={cfg.train.dtype!r}; choose auto, float32 or bfloat16")
    if cfg.train.quantization == "4bit" and not _gpu():
        raise ConfigError("train.quantization=4bit (QLoRA) needs a CUDA GPU; on CPU use train.quantization=auto or none")
    _warn_emulated_bf16(cfg)


def _quantization(backend: DictConfig, key: str) -> None:
    """`key` (a backend's quantization): null, or 4bit on a local engine with a CUDA GPU."""
    value = backend.get("quantization")
    if value is None:
        return
    if value not in QUANTIZATIONS:
        raise ConfigError(f"{key}={value!r}; choose null or {', '.join(QUANTIZATIONS)}")
    if backend.name not in LOCAL:
        raise ConfigError(f"{key}={value}: backend={backend.name} asks a server, which decides its own quantization; "
                          f"set {key}=null")
    if not _gpu():
        raise ConfigError(f"{key}={value} loads bitsandbytes 4-bit weights, which needs a CUDA GPU; on this machine "
                          f"set {key}=null")


MODEL_KEYS = ("name", "path", "gguf_file", "max_context")  # what every model config (conf/model/) holds
PICK_RERANKER = ("pick one of conf/model/ with +model@retrieval.model=<name> (e.g. 7b), or set retrieval.model=null "
                 "to re-rank with the agent's own model")


def _reranker(cfg: DictConfig) -> None:
    """retrieval.model: null, or a plain model config that llm_rerank loads on a second engine of the
    agent's kind, whose keys retrieval.backend may change (only keys that engine has)."""
    model = OmegaConf.select(cfg, "retrieval.model")
    if model is None:
        return
    if cfg.retrieval.name != "llm_rerank":
        raise ConfigError(f"retrieval.model is the model of the llm_rerank re-ranker, but "
                          f"retrieval={cfg.retrieval.name} asks no model; set retrieval.model=null, "
                          f"or retrieval=llm_rerank")
    if not isinstance(model, DictConfig) or any(key not in model for key in MODEL_KEYS):
        raise ConfigError(f"retrieval.model={model!r} is not a model config; {PICK_RERANKER}")
    if model.get("adapter") or model.get("warm_start"):
        raise ConfigError("retrieval.model has an adapter or a warm start, which are trained for the agent's model; "
                          "set retrieval.model.adapter=null and retrieval.model.warm_start=null")
    for key in cfg.retrieval.get("backend") or {}:
        if key == "name" or key not in cfg.backend:
            raise ConfigError(f"retrieval.backend.{key}: the re-ranker's second engine is of the agent's kind, "
                              f"backend={cfg.backend.name}, and may change only its other keys "
                              f"({', '.join(k for k in cfg.backend if k != 'name')}); drop retrieval.backend.{key}")
    _quantization(reranker_engine(cfg).backend, "retrieval.backend.quantization")


def _warn_emulated_bf16(cfg: DictConfig) -> None:
    """bfloat16 asked for where this CPU emulates it: it runs, but slower than float32, so say so
    (once per key) before the work, with the fix."""
    asked = [(f"{prefix}.dtype", OmegaConf.select(cfg, f"{prefix}.dtype"),
              OmegaConf.select(cfg, f"{prefix}.device", default="auto")) for prefix in ("backend", "extractor.backend")]
    for key, dtype, device in [*asked, ("train.dtype", cfg.train.dtype, "auto")]:
        if key not in _warned and emulated_bf16(dtype, device):
            _warned.add(key)
            log.warning("%s=bfloat16 on a CPU without native bf16 (neither AVX512-BF16 nor AMX in /proc/cpuinfo): it is "
                        "emulated, 2.46x slower than float32 on such a CPU (experiments/bench_dtype.py); pass %s=float32, "
                        "or '%s=${bf16_if_native:${backend.device}}' for the fast dtype of each machine", key, key, key)


def _one_of(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)} ({key}=...)")


def _choices(cfg: DictConfig) -> None:
    """Values the stages declare a choice for (e.g. train.regime), and the pipeline's student regimes."""
    for spec in stagegraph.STAGES.values():
        for key, allowed in spec.choices.items():
            _one_of(key, OmegaConf.select(cfg, key), allowed)
    students = tuple(sorted(link.overrides["train.regime"] for link in stagegraph.report_links(cfg)
                            if "train.regime" in link.overrides))  # the students the report has a row for
    for regime in cfg.pipeline.regimes:
        _one_of("pipeline.regimes", regime, students)


def _gpu() -> bool:
    import torch

    return torch.cuda.is_available()


RERANKING = ("teacher", "pipeline")  # the modes that load a separate re-ranker (retrieval.model)


def validate_model(cfg: DictConfig) -> None:
    """The weights exist where the config says, or the API key is there (no loading, no request);
    where the teacher runs, the separate re-ranker's as well, before the agent's engine loads."""
    _weights(cfg, "model")
    engine = reranker_engine(cfg) if OmegaConf.select(cfg, "mode") in RERANKING else None
    if engine is not None:
        _weights(engine, "retrieval.model")


def _weights(cfg: DictConfig, key: str) -> None:
    """`cfg.model`'s weights (named `key` in errors) found, or `cfg.backend`'s server key there."""
    if cfg.backend.name == "openai":
        from hintrag.llm.openai_api import api_key

        api_key(cfg.backend)
        return
    resolve_source(cfg.model, key)
