"""Benchmark: the cost of agent.act=rank with and without the candidates' common head prefilled once.

    python experiments/bench_rank.py experiment=small_webshop split=valid n_episodes=10 store.root=outputs

Plays the configured episodes once (with the config's warm start, as `mode=rollout` would; nothing
is written to the run store), recording every ranking request, then scores all of them again in
this process without the session cache: the common head shared, then not, then shared again.
Prints seconds per ranking of each pass and whether the chosen candidates agree.
"""

from __future__ import annotations

import time

import hydra
from benchlib import CountingBackend
from omegaconf import DictConfig

from hintrag.agents import make_agent
from hintrag.envs import make_suite
from hintrag.episodes import limits_from, play
from hintrag.llm import make_backend
from hintrag.llm.base import RankRequest, Ranking
from hintrag.play import select_episodes
from hintrag.stages import store_root
from hintrag.warmstart import warm_started


class RecordingBackend(CountingBackend):
    """Counts like CountingBackend and keeps every ranking request it passes on."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.requests: list[RankRequest] = []

    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        self.requests += requests
        return self.inner.rank(requests)

    def count_prompt_tokens(self, messages) -> int:
        return self.inner.count_prompt_tokens(messages)


def scored(backend, requests: list[RankRequest], share_head: bool) -> tuple[float, list[Ranking]]:
    backend.share_head = share_head
    started = time.perf_counter()
    out = backend.rank(requests)
    return time.perf_counter() - started, out


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    cfg = warm_started("rollout", cfg, store_root(cfg))
    suite = make_suite(cfg.env)
    recorder = RecordingBackend(make_backend(cfg.backend, cfg.model, cfg.generation))
    specs = select_episodes(suite, cfg.split, cfg.n_episodes)
    started = time.perf_counter()
    play(specs, suite, make_agent(cfg.agent, cfg.env), recorder, limits_from(cfg), int(cfg.batch_size), lambda r: None)
    requests = [RankRequest(r.messages, r.candidates) for r in recorder.requests]  # no session: no cache reuse
    print(f"played {len(specs)} episodes in {time.perf_counter() - started:.1f}s: {len(requests)} rankings, "
          f"{sum(len(r.candidates) for r in requests) / max(1, len(requests)):.1f} candidates each")
    backend = recorder.inner
    runs = [(label, *scored(backend, requests, share)) for label, share in
            (("head shared", True), ("no head", False), ("head shared again", True))]
    for label, wall, _ in runs:
        print(f"{label:18} {wall:7.2f}s  {1000 * wall / max(1, len(requests)):6.0f} ms a ranking")
    shared, plain = runs[0][2], runs[1][2]
    agree = sum(a.best == b.best for a, b in zip(shared, plain))
    gap = max((abs(x - y) for a, b in zip(shared, plain) for x, y in zip(a.logprobs, b.logprobs)), default=0.0)
    print(f"no head / head shared: {runs[1][1] / runs[0][1]:.2f}x and {runs[1][1] / runs[2][1]:.2f}x; "
          f"same choice in {agree}/{len(requests)}; largest log-probability gap {gap:.4f}")


if __name__ == "__main__":
    main()
