"""Build ALFWorld few-shot examples by playing train games with the handcoded expert.

One won game per task type is picked from ``json_2.1.1/train`` (sorted trial paths, first
game whose expert run is won in 8-25 steps) and its trace is written to a JSON file.

Usage: ``python experiments/make_fewshot.py env.data_dir=../shared/data/alfworld`` (the project's
Hydra config; ``$ALFWORLD_DATA`` works too).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.envs.examples import save_examples  # noqa: E402
from hintrag.envs import make_suite  # noqa: E402
from hintrag.envs.alfworld import TASK_TYPES  # noqa: E402

MIN_STEPS, MAX_STEPS, MAX_CANDIDATES, MAX_EPISODE_STEPS = 8, 25, 10, 60


def choose_examples(suite: Any) -> dict[str, dict[str, Any]]:
    """Pick and play one example game per task type (the expert of hintrag/envs/alfworld_expert.py)."""
    specs = sorted(suite.episodes("train"), key=lambda s: s.source)
    examples: dict[str, dict[str, Any]] = {}
    for kind in sorted(TASK_TYPES):
        for spec in [s for s in specs if s.category == kind][:MAX_CANDIDATES]:
            demo = suite.demonstrate(spec, MAX_EPISODE_STEPS)
            n = len(demo.steps)
            print(f"{kind}: {Path(spec.source).parent.parent.name} won={demo.won} steps={n}", flush=True)
            if demo.won and MIN_STEPS <= n <= MAX_STEPS:
                examples[kind] = {"game": Path(spec.source).relative_to(suite.root).as_posix(), "task": demo.task,
                                  "initial_observation": demo.initial_observation, "steps": demo.steps, "won": True}
                break
        else:
            raise RuntimeError(f"no expert win in {MIN_STEPS}-{MAX_STEPS} steps for {kind}")
    return examples


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Build the examples from `env.data_dir` and write the JSON file under hintrag/envs/example_data/"""
    start = time.perf_counter()
    examples = choose_examples(make_suite(cfg.env))
    path = save_examples("alfworld", "alfworld 0.4.2 handcoded expert on train games", examples)
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
