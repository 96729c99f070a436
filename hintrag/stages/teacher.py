"""Stage C: the Stage A agent again, with top-k hints retrieved once at step 0 and put in its prompt.

The bank is found by the extract stage's key, which `teacher.k` and `retrieval` do not enter: a
sweep `-m k=1,3,6,9` reuses one Stage A run and one bank and writes one teacher run per k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.artifacts import hint_bank
from hintrag.hints.retrieval import make_retriever, rerank_backend
from hintrag.llm import Backend
from hintrag.play import play_stage
from hintrag.episodes import Hinting


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    source, bank = hint_bank("teacher", cfg, root)
    bank_key = source.key

    def hinting(backend: Backend) -> Hinting:
        reranker = rerank_backend(cfg, backend)  # the agent's engine, or retrieval.model's own
        return Hinting(make_retriever(cfg.retrieval, bank, reranker), int(cfg.teacher.k), bool(cfg.teacher.repeat_hint))

    run_, metrics = play_stage("teacher", cfg, root, hinting=hinting)
    print(
        f"teacher (k={cfg.teacher.k}, {cfg.retrieval.name}, bank {bank_key}: {len(bank.hints)} hints): "
        f"{metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
        f"mean tokens/episode {metrics['mean_total_tokens']:.0f} (retrieval {metrics['mean_retrieval_tokens']:.0f}) -> {run_.path}"
    )
    return {"run": str(run_.path), "bank": bank_key, **metrics}
