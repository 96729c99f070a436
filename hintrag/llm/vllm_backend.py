"""vLLM backend for GPU rollouts (`backend=vllm`, extra `gpu`): the offline engine.

All running episodes of a step go into one `generate` call; vLLM's automatic prefix caching plays
the role of the hf backend's per-episode KV cache; a Stage D student is served as a LoRA request
on the base model. Prompts are tokenised with the model's own chat template here and passed as
token ids, so prompt and completion counts are exact and identical to the hf backend's.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import Completion, LocalTokens, Request
from hintrag.llm.models import local_folder

log = logging.getLogger(__name__)

INSTALL = 'pip install -e ".[gpu]"  (vLLM needs a CUDA GPU)'


def require_vllm() -> None:
    """Fail at once, naming the install line, when vLLM is absent."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(f"backend=vllm needs vLLM, which is not installed; install it with: {INSTALL}")


# Ranks vLLM's LoRA config accepts as max_lora_rank.
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def serving_rank(rank: int) -> int:
    """The smallest rank vLLM accepts that can serve an adapter of `rank`."""
    fits = [r for r in LORA_RANKS if r >= rank]
    if not fits:
        raise ConfigError(f"train.lora_rank={rank} is above the largest rank vLLM serves ({LORA_RANKS[-1]})")
    return fits[0]


class VLLMBackend(LocalTokens):
    def __init__(self, model: DictConfig, backend: DictConfig, generation: DictConfig) -> None:
        require_vllm()
        from transformers import AutoTokenizer
        from vllm import LLM

        folder = str(local_folder(model, backend.cache_dir))
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.adapter = str(model.adapter) if model.get("adapter") else None
        self.llm = LLM(
            model=folder, tensor_parallel_size=int(backend.tensor_parallel_size),
            enable_prefix_caching=bool(backend.prefix_caching), gpu_memory_utilization=float(backend.gpu_memory_utilization),
            max_model_len=int(backend.max_model_len) if backend.max_model_len else int(model.max_context),
            dtype=str(backend.dtype), enable_lora=self.adapter is not None, max_lora_rank=serving_rank(int(backend.max_lora_rank)),
            seed=int(backend.seed), enforce_eager=bool(backend.enforce_eager),
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

        ids, runnable, results = self.fit_context(requests)
        params = [SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=requests[i].max_new_tokens,
                                 stop=list(requests[i].stop) or None, include_stop_str_in_output=True)
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
