"""Shared by the rollout benchmarks: play the configured episodes once per setting, in memory, and count."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before any hintrag import can reach transformers

from hintrag.agents import make_agent  # noqa: E402
from hintrag.envs import make_suite  # noqa: E402
from hintrag.llm import Request, make_backend  # noqa: E402
from hintrag.records import EpisodeRecord  # noqa: E402
from hintrag.episodes import limits_from, play  # noqa: E402
from hintrag.play import select_episodes  # noqa: E402


class CountingBackend:
    """Wraps a backend and adds up the prompt tokens it really prefilled."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.prefill = 0
        self.prompt = 0

    def generate(self, requests: list[Request]):
        out = self.inner.generate(requests)
        self.prefill += sum(c.prefill_tokens for c in out)
        self.prompt += sum(c.prompt_tokens for c in out)
        return out

    def release(self, session: str) -> None:
        self.inner.release(session)


def measure(cfg: DictConfig) -> tuple[dict, list[EpisodeRecord]]:
    """Play the config's episodes without touching the run store; timings, token counts, records."""
    suite = make_suite(cfg.env)
    specs = select_episodes(suite, cfg.split, cfg.n_episodes)
    backend = CountingBackend(make_backend(cfg.backend, cfg.model, cfg.generation))
    records: list[EpisodeRecord] = []
    started = time.perf_counter()
    timing = play(specs, suite, make_agent(cfg.agent, cfg.env), backend, limits_from(cfg), int(cfg.batch_size),
                  records.append)
    wall = time.perf_counter() - started
    stats = {"prefill_tokens": backend.prefill, "prompt_tokens": backend.prompt, **timing, "wall_s": wall,
             "episodes_per_s": len(specs) / wall}
    return stats, records


def actions(records: list[EpisodeRecord]) -> dict[str, list[str]]:
    return {r.episode_id: [s.action for s in r.trace] for r in records}


def compare(cfg: DictConfig, key: str, values: list[Any],
            report: Callable[[Any, dict], None]) -> dict[Any, dict]:
    """`measure` once per value of `key` (same games, same model), reporting each as it finishes;
    each result carries its actions, to check that the settings agree."""
    results = {}
    for value in values:
        OmegaConf.update(cfg, key, value, force_add=True)
        results[value], records = measure(cfg)
        results[value]["actions"] = actions(records)
        report(value, results[value])
    return results
