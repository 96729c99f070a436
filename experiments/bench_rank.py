"""Benchmark: one ranking's candidates scored as a token tree (the hf backend) against one padded
row per candidate on the same cached prompt (the design before the tree), with the scores of both.

    OMP_NUM_THREADS=1 taskset -c 0 python experiments/bench_rank.py experiment=small_webshop model.warm_start=null

Two made-up but typical turns: a WebShop results page (~930 prompt tokens, 22 clicks: product
ids, page buttons, options) and an ALFWorld memory state (37 commands: `go to` every receptacle,
`take X from countertop 1`). Each is timed twice, the second time reported. Nothing is written.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from transformers import DynamicCache

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402,F401  (sets HF_HUB_OFFLINE before transformers reads it)
from hintrag.llm import make_backend  # noqa: E402
from hintrag.llm.base import RankRequest  # noqa: E402

WORDS = ("stainless steel water bottle insulated 32 oz leak proof lid sports gym BPA free blue green pack of 2 "
         "men women").split()


def turns(rng: random.Random) -> dict[str, tuple[str, list[str]]]:
    """Name -> (user message, candidates) of the two turns."""
    page = " [SEP] ".join(f"B0{rng.randint(10**7, 10**8)} [SEP] {' '.join(rng.choices(WORDS, k=14))} [SEP] "
                          f"${rng.randint(5, 60)}.99" for _ in range(10))
    clicks = [f"click[B0{rng.randint(10**7, 10**8)}]" for _ in range(10)] + ["click[Next >]", "click[Back to Search]"]
    rooms = [f"{place} {n}" for place in ("cabinet", "countertop", "drawer", "shelf", "sidetable") for n in range(1, 7)]
    things = ("apple 1", "knife 2", "mug 1", "bread 1")
    return {
        "webshop": (f"Instruction: {' '.join(WORDS)}\n{page} [SEP] {page}", clicks + [f"click[{w}]" for w in WORDS[:10]]),
        "alfworld": ("Your task is to: put a clean apple in fridge.\nNot visited: " + ", ".join(rooms),
                     [f"go to {r}" for r in rooms] + ["look", "inventory", "examine countertop 1"]
                     + [f"take {t} from countertop 1" for t in things]),
    }


def rows(backend, last: int, answers: list[list[int]], kv: list, chunk: int = 16) -> list[float]:
    """The baseline: each candidate its own right-padded row on a copy of the prompt's keys/values."""
    scores = []
    for start in range(0, len(answers), chunk):
        part = answers[start:start + chunk]
        width = max(map(len, part))
        ids = torch.tensor([[last] + a[:-1] + [backend.pad_id] * (width - len(a)) for a in part], device=backend.device)
        cache = DynamicCache(config=backend.model.config)
        for layer, (k, v) in enumerate(kv):
            cache.update(k.expand(len(part), -1, -1, -1), v.expand(len(part), -1, -1, -1), layer)
        logits = backend.model(input_ids=ids, past_key_values=cache, use_cache=True).logits
        for row, answer in enumerate(part):
            logp = torch.log_softmax(logits[row, :len(answer)].float(), dim=-1)
            scores.append(float(logp.gather(1, torch.tensor(answer, device=backend.device)[:, None]).sum()))
    return scores


def timed(fn, *args) -> tuple[float, list[float]]:
    """Seconds of the second of two calls, and its result."""
    fn(*args)
    started = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - started, out


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    for name, (text, candidates) in turns(random.Random(0)).items():
        request = RankRequest([{"role": "system", "content": "You are an agent."}, {"role": "user", "content": text}],
                              candidates)
        prompt, answers, _ = backend.rank_inputs(request)
        with torch.inference_mode():
            _, kv = backend._prefill_alone(request, prompt)
            rows_s, by_rows = timed(rows, backend, prompt[-1], answers, kv)
            tree_s, by_tree = timed(backend._score_chunk, prompt[-1], answers, kv)
        print(json.dumps({
            "turn": name, "dtype": str(backend.model.dtype), "prompt_tokens": len(prompt),
            "candidates": len(answers), "answer_tokens": sum(map(len, answers)),
            "rows_s": round(rows_s, 3), "tree_s": round(tree_s, 3), "speedup": round(rows_s / tree_s, 2),
            "max_abs_score_diff": max(abs(a - b) for a, b in zip(by_rows, by_tree)),
            "same_best": by_rows.index(max(by_rows)) == by_tree.index(max(by_tree)),
        }))


if __name__ == "__main__":
    main()
