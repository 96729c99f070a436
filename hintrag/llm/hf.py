"""transformers backend: batched chat generation with a per-episode prefix (KV) cache.

An agent's prompt at step t is its prompt at step t-1 plus the last answer and observation.
Recomputing the whole history every step makes a 50-step episode quadratic; instead each
session keeps the keys/values of the tokens it has seen, and a step only prefills the tokens
after the longest common prefix with what is cached. Each row prefills its new tokens alone
(no padding); the batch then decodes together: rows' caches are left-padded to the longest,
the attention mask hides the pads and position ids follow the mask, so every row computes
what it would compute alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import groupby

import torch
from omegaconf import DictConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, GenerationConfig, StaticCache

from hintrag.llm.base import Completion, LocalTokens, RankRequest, Ranking, Request
from hintrag.llm.models import local_folder, nf4_config
from hintrag.llm.tokentree import TokenTree

log = logging.getLogger(__name__)

RANK_CHUNK = 64  # candidates scored in one forward pass (one token tree) on the shared prompt cache
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class _Prefix:
    """Tokens of a session whose keys/values are cached, and the per-layer (key, value) tensors."""

    ids: list[int]
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # each [1, kv_heads, len(ids), head_dim]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _load(folder: object, dtype: torch.dtype, device: torch.device, quantization: str | None) -> torch.nn.Module:
    """The model in `dtype` on `device`, or with backend.quantization=4bit in NF4 on that GPU
    (validate_common refuses it without one): a bitsandbytes model is placed as it loads."""
    if quantization == "4bit":
        return AutoModelForCausalLM.from_pretrained(folder, quantization_config=nf4_config(), dtype=torch.bfloat16,
                                                    device_map={"": device.index or 0}).eval()
    return AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device).eval()


class HFBackend(LocalTokens):
    """Greedy (or sampled) batched generation with transformers."""

    def __init__(self, model: DictConfig, backend: DictConfig, generation: DictConfig) -> None:
        if backend.threads:
            torch.set_num_threads(int(backend.threads))
        self.device = _device(backend.device)
        dtype = DTYPES.get(backend.dtype) or (torch.float32 if self.device.type == "cpu" else torch.bfloat16)
        folder = local_folder(model, backend.cache_dir)
        started = time.perf_counter()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = _load(folder, dtype, self.device, backend.get("quantization"))
        if model.get("adapter"):  # a Stage D student: merge its LoRA weights for plain-speed inference
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(model.adapter)).merge_and_unload().eval()
        log.info("loaded %s from %s in %.1fs on %s", model.name, folder, time.perf_counter() - started, self.device)
        self.max_context = int(model.max_context)
        self.prefix_cache = bool(backend.prefix_cache)
        self.temperature = float(generation.temperature)
        self.top_p = float(generation.top_p)
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)
        self._prefixes: dict[str, _Prefix] = {}

    def release(self, session: str) -> None:
        self._prefixes.pop(session, None)

    # -- generation -------------------------------------------------------------------------
    def generate(self, requests: list[Request]) -> list[Completion]:
        ids, runnable, results = self.fit_context(requests)
        # One engine call per distinct (max_new_tokens, stop); rollouts send a single group.
        key = lambda i: (requests[i].max_new_tokens, requests[i].stop)  # noqa: E731
        for (max_new, stop), group in groupby(sorted(runnable, key=key), key=key):
            rows = list(group)
            outs = self._generate_batch([requests[i] for i in rows], [ids[i] for i in rows], max_new, stop)
            for i, out in zip(rows, outs):
                results[i] = out
        return [r for r in results if r is not None]

    # -- ranking ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        """Each request's candidates scored by summed log-probability; see `_rank_one`."""
        return [self._rank_one(req) for req in requests]

    def _rank_one(self, req: RankRequest) -> Ranking:
        """The prompt is prefilled once (reusing the session's cache), then the candidates run on
        its keys/values, up to RANK_CHUNK at a time as one token tree fed the prompt's last token
        and each answer but its last. Logits come only at the answers' own positions: the whole
        vocabulary at every prompt position would be gigabytes."""
        prompt, answers, refused = self.rank_inputs(req)
        if refused:
            return refused
        reused, kv = self._prefill_alone(req, prompt)
        logprobs: list[float] = []
        for start in range(0, len(answers), RANK_CHUNK):
            logprobs += self._score_chunk(prompt[-1], answers[start:start + RANK_CHUNK], kv)
        if self.prefix_cache and req.session:
            self._prefixes[req.session] = _Prefix(ids=prompt[:-1], kv=kv)
        return Ranking(logprobs, [len(a) for a in answers], len(prompt), len(prompt) - reused)

    def _score_chunk(self, last: int, answers: list[list[int]], kv: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
        """Summed log-probabilities of `answers` after the cached prompt, their shared prefixes
        merged into one token tree (`TokenTree`): one row whose positions see the prompt and their
        own ancestors, at the position ids their depths give."""
        tree = TokenTree.of(last, answers)
        cached = kv[0][0].shape[2] if kv else 0
        visible = torch.tensor(tree.ancestry(), device=self.device)
        allowed = torch.cat([torch.ones(len(tree.tokens), cached, dtype=torch.bool, device=self.device), visible], dim=1)
        blocked = torch.finfo(self.model.dtype).min  # additive: eager and sdpa attention both take it
        mask = torch.zeros(allowed.shape, dtype=self.model.dtype, device=self.device).masked_fill(~allowed, blocked)
        cache = DynamicCache(config=self.model.config)
        for layer, (k, v) in enumerate(kv):
            cache.update(k, v, layer)
        logits = self.model(input_ids=torch.tensor([tree.tokens], device=self.device),
                            position_ids=torch.tensor([[cached + d for d in tree.depths]], device=self.device),
                            attention_mask=mask[None, None], past_key_values=cache if kv else None,
                            use_cache=bool(kv)).logits[0]
        logp = torch.log_softmax(logits.float(), dim=-1)
        return [float(logp[path, answer].sum()) for path, answer in zip(tree.paths, answers)]

    def _reuse(self, req: Request | RankRequest, prompt: list[int]) -> tuple[int, _Prefix | None]:
        """How many leading prompt tokens this session already has cached, and that cache."""
        cached = self._prefixes.get(req.session) if (self.prefix_cache and req.session) else None
        return (min(_common_prefix(cached.ids, prompt), len(prompt) - 1), cached) if cached else (0, None)

    def _prefill_alone(self, req: Request | RankRequest, prompt: list[int]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Tokens reused from the session's cache, and the keys/values of all prompt tokens but the
        last, computed for this row alone.

        Prefilling rows one by one costs what their own new tokens cost; a padded batch costs the
        longest row's times the batch (an observation can be 500 tokens next to another row's 20).
        The last token is left for the batched generate call, which then only decodes.
        """
        reused, cached = self._reuse(req, prompt)
        end = len(prompt) - 1
        cache = DynamicCache(config=self.model.config)
        if reused:
            for layer, (k, v) in enumerate(cached.kv):
                cache.update(k[:, :, :reused], v[:, :, :reused], layer)
        if end > reused:
            ids = torch.tensor([prompt[reused:end]], device=self.device)
            self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return reused, [(layer.keys, layer.values) for layer in cache.layers] if end else []

    def _batch_inputs(
        self, prompts: list[list[int]], kvs: list[list[tuple[torch.Tensor, torch.Tensor]]], max_new: int
    ) -> tuple[torch.Tensor, torch.Tensor, StaticCache]:
        """Each row's prefilled keys/values left-padded to a common length P, then its last prompt token.

        The cache is preallocated for the whole answer: a DynamicCache concatenates every layer's
        keys/values at each decoded token, which for 8 rows of 4k tokens copies 1.5 GB per token.
        """
        lengths = [len(p) - 1 for p in prompts]
        P = max(lengths)
        input_ids = torch.tensor([[self.pad_id] * (P - n) + p for p, n in zip(prompts, lengths)], device=self.device)
        mask = torch.tensor([[0] * (P - n) + [1] * (n + 1) for n in lengths], device=self.device)
        cache = StaticCache(config=self.model.config, max_cache_len=P + 1 + max_new)
        if P == 0:
            return input_ids, mask, cache
        sample = next(kv for kv in kvs if kv)
        for layer, (k0, v0) in enumerate(sample):
            k = k0.new_zeros((len(prompts), k0.shape[1], P, k0.shape[3]))
            v = v0.new_zeros((len(prompts), v0.shape[1], P, v0.shape[3]))
            for row, (kv, n) in enumerate(zip(kvs, lengths)):
                if n:
                    k[row, :, P - n :] = kv[layer][0][0]
                    v[row, :, P - n :] = kv[layer][1][0]
            cache.update(k, v, layer)
        return input_ids, mask, cache

    def _finish(self, gen: list[int], stop: tuple[str, ...]) -> tuple[int, str]:
        """Length of a row's real completion and why it ended (eos, stop string, or length)."""
        for k, token in enumerate(gen):
            if token in self.eos_ids:
                return k + 1, "eos"
            if stop and any(s in self.tokenizer.decode(gen[: k + 1], skip_special_tokens=True) for s in stop):
                return k + 1, "stop"
        return len(gen), "length"

    @torch.inference_mode()
    def _generate_batch(
        self, reqs: list[Request], prompts: list[list[int]], max_new: int, stop: tuple[str, ...]
    ) -> list[Completion]:
        reuse, kvs = zip(*[self._prefill_alone(r, p) for r, p in zip(reqs, prompts)])
        input_ids, mask, cache = self._batch_inputs(prompts, kvs, max_new)
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=self.temperature > 0,
            temperature=self.temperature if self.temperature > 0 else None,
            top_p=self.top_p if self.temperature > 0 else None,
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
            stop_strings=list(stop) or None,
            return_dict_in_generate=True,
            disable_compile=True,  # every call has its own cache length: compiling would recompile each time
        )
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            past_key_values=cache,
            generation_config=config,
            tokenizer=self.tokenizer,
        )
        width = input_ids.shape[1]
        generated = out.sequences[:, width:].tolist()
        results = []
        for row, (req, prompt, r) in enumerate(zip(reqs, prompts, reuse)):
            n, reason = self._finish(generated[row], stop)
            text = self.tokenizer.decode(generated[row][:n], skip_special_tokens=True)
            results.append(Completion(text, len(prompt), n, reason, prefill_tokens=len(prompt) - r))
            if self.prefix_cache and req.session:
                self._store(req.session, row, mask, prompt, generated[row][:n], out.past_key_values)
        return results

    def _store(
        self, session: str, row: int, mask: torch.Tensor, prompt: list[int], gen: list[int], cache: StaticCache
    ) -> None:
        """Keep the row's valid keys/values: its prompt tokens and the generated tokens that have KV."""
        total = int(cache.get_seq_length())
        width = mask.shape[1]
        kept_gen = gen[: max(0, total - width)]
        columns = torch.cat(
            [mask[row].nonzero().squeeze(1), torch.arange(width, width + len(kept_gen), device=self.device)]
        )
        kv = [
            (layer.keys[row : row + 1, :, columns], layer.values[row : row + 1, :, columns])  # indexing copies
            for layer in cache.layers
        ]
        self._prefixes[session] = _Prefix(ids=list(prompt) + list(kept_gen), kv=kv)
