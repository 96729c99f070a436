"""Stage C: the Stage A agent again, with top-k hints retrieved once at step 0 and put in its prompt.

The bank is found by the extract stage's key, which `k` and `retrieval` do not enter: a sweep
`-m k=1,3,6,9` reuses one Stage A run and one bank and writes one teacher run per k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.hints.bank import Bank
from hintrag.hints.retrieval import make_retriever
from hintrag.stages.extract import BANK
from hintrag.stages.rollout import play_stage
from hintrag.store import locate_run


def load_bank(cfg: DictConfig, root: Path) -> tuple[str, Bank]:
    """The bank of this config's extract stage, or one error naming the command that makes it."""
    extract = locate_run("extract", cfg, root)
    if not (extract.path / BANK).is_file():
        raise ConfigError(
            f"no hint bank at {extract.path}; run `python run.py mode=extract "
            f"extractor={cfg.extractor.name}` with the same env, agent, model, seed and max_steps first"
        )
    return extract.key, Bank.load(extract.path / BANK)


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    bank_key, bank = load_bank(cfg, root)
    run_, metrics = play_stage("teacher", cfg, root, retriever=lambda backend: make_retriever(cfg.retrieval, bank, backend))
    print(
        f"teacher (k={cfg.k}, {cfg.retrieval.name}, bank {bank_key}: {len(bank.hints)} hints): "
        f"{metrics['n_episodes']} episodes, success {metrics['success_rate']:.1%}, "
        f"mean tokens/episode {metrics['mean_total_tokens']:.0f} (retrieval {metrics['mean_retrieval_tokens']:.0f}) -> {run_.path}"
    )
    return {"run": str(run_.path), "bank": bank_key, **metrics}
