"""Benchmark: episodes/s of batched lockstep rollouts against one episode at a time.

    python experiments/bench_batching.py n_episodes=4 max_steps=8 batch_size=4
    python experiments/bench_batching.py backend=vllm model=7b n_episodes=64 batch_size=64   # on a GPU

Same games, same model, same config; only `batch_size` differs (the config's value against 1).
Prints episodes/s of each, the ratio, and whether greedy trajectories agree.
"""

from __future__ import annotations

import hydra
from benchlib import compare
from omegaconf import DictConfig


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    batched = int(cfg.batch_size)
    results = compare(cfg, "batch_size", [1, batched], lambda size, r: print(
        f"batch_size={size:<3} backend={cfg.backend.name} episodes={r['episodes']} steps={r['steps']} "
        f"model_calls={r['model_calls']} wall_s={r['wall_s']:.1f} episodes/s={r['episodes_per_s']:.3f}"))
    one, many = results[1], results[batched]
    print(f"episodes/s batched / sequential: {many['episodes_per_s'] / one['episodes_per_s']:.2f}x")
    print(f"identical actions in every episode: {one['actions'] == many['actions']}")


if __name__ == "__main__":
    main()
