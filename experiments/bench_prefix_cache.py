"""Benchmark: prefill tokens and wall time of the same rollouts with and without KV-cache reuse.

    python experiments/bench_prefix_cache.py n_episodes=2 max_steps=10 batch_size=2

Any config override works (it is the project's Hydra config). Nothing is written to the run
store; the script prints one line per setting, the ratios, and whether the trajectories agree.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from hintrag.agents import make_agent  # noqa: E402
from hintrag.envs import make_suite  # noqa: E402
from hintrag.llm import Request, make_backend  # noqa: E402
from hintrag.records import EpisodeRecord  # noqa: E402
from hintrag.rollout import limits_from, play  # noqa: E402
from hintrag.stages.rollout import select_episodes  # noqa: E402


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


def measure(cfg: DictConfig, prefix_cache: bool) -> tuple[dict, list[EpisodeRecord]]:
    with open_dict(cfg):
        cfg.backend.prefix_cache = prefix_cache
    suite = make_suite(cfg.env)
    specs = select_episodes(suite, cfg.split, cfg.n_episodes)
    backend = CountingBackend(make_backend(cfg.backend, cfg.model, cfg.generation))
    records: list[EpisodeRecord] = []
    started = time.perf_counter()
    timing = play(specs, suite, make_agent(cfg.agent, cfg.env), backend, limits_from(cfg), int(cfg.batch_size), records.append)
    wall = time.perf_counter() - started
    return {"prefill_tokens": backend.prefill, "prompt_tokens": backend.prompt, "wall_s": wall, **timing}, records


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    results = {}
    for reuse in (False, True):
        results[reuse], records = measure(cfg, reuse)
        results[reuse]["actions"] = {r.episode_id: [s.action for s in r.trace] for r in records}
        r = results[reuse]
        print(
            f"prefix_cache={str(reuse):5}  episodes={r['episodes']}  steps={r['steps']}  "
            f"prompt_tokens={r['prompt_tokens']}  prefill_tokens={r['prefill_tokens']}  wall_s={r['wall_s']:.1f}"
        )
    off, on = results[False], results[True]
    print(f"prefill tokens without/with reuse: {off['prefill_tokens'] / max(1, on['prefill_tokens']):.1f}x")
    print(f"wall time without/with reuse:      {off['wall_s'] / on['wall_s']:.2f}x")
    same = off["actions"] == on["actions"]
    print(f"identical actions in every episode: {same}")


if __name__ == "__main__":
    main()
