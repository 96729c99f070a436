"""Benchmark: prefill tokens and wall time of the same rollouts with and without KV-cache reuse.

    python experiments/bench_prefix_cache.py n_episodes=2 max_steps=12 batch_size=2

Any config override works (it is the project's Hydra config). Nothing is written to the run
store; the script prints one line per setting, the ratios, and whether the trajectories agree.
"""

from __future__ import annotations

import hydra
from benchlib import compare
from omegaconf import DictConfig


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    results = compare(cfg, "backend.prefix_cache", [False, True], lambda reuse, r: print(
        f"prefix_cache={str(reuse):5}  episodes={r['episodes']}  steps={r['steps']}  "
        f"prompt_tokens={r['prompt_tokens']}  prefill_tokens={r['prefill_tokens']}  wall_s={r['wall_s']:.1f}"))
    off, on = results[False], results[True]
    print(f"prefill tokens without/with reuse: {off['prefill_tokens'] / max(1, on['prefill_tokens']):.1f}x")
    print(f"wall time without/with reuse:      {off['wall_s'] / on['wall_s']:.2f}x")
    print(f"identical actions in every episode: {off['actions'] == on['actions']}")


if __name__ == "__main__":
    main()
