"""Build WebShop few-shot examples by playing train goals with the scripted oracle
(hintrag/envs/webshop/oracle.py, the same code as `mode=demos`).

For each of the five categories the first goal of the `train` split (goals 1500+) that the
oracle wins is kept. Only episodes with reward 1.0 are kept, and the traces are written in the same schema as
`alfworld.json`, observations exactly as the env returns them (the prompt must show the real
page format).

Usage: ``python experiments/make_fewshot_webshop.py env.data_dir=../shared/data/webshop``
(the project's Hydra config with `env=webshop` implied; ``$WEBSHOP_DATA`` works too).
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
from hintrag.errors import ConfigError  # noqa: E402

SPLIT = "train"
MAX_GOALS = 25  # goals tried per category before giving up
MAX_ACTIONS = 15  # the oracle needs search, at most one Next >, the product, its options, Buy Now


def choose_examples(suite: Any) -> dict[str, dict[str, Any]]:
    """One won oracle episode per category: the first train goal of that category that works."""
    specs = suite.episodes(SPLIT)
    examples: dict[str, dict[str, Any]] = {}
    for category in suite.categories:
        for spec in [s for s in specs if s.category == category][:MAX_GOALS]:
            demo = suite.demonstrate(spec, MAX_ACTIONS)  # hintrag/envs/webshop/oracle.py
            print(f"{category}: {spec.id} {'won in ' + str(len(demo.steps)) + ' steps' if demo.won else demo.end_reason}",
                  flush=True)
            if demo.won:
                examples[category] = {"game": spec.id, "task": demo.task, "initial_observation": demo.initial_observation,
                                      "steps": demo.steps, "won": True}
                break
        else:
            raise RuntimeError(f"the oracle won none of the first {MAX_GOALS} {category} goals of {SPLIT}")
    return examples


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Play the oracle on `env.data_dir` and write the JSON file under hintrag/envs/example_data/"""
    if cfg.env.name != "webshop":
        raise ConfigError(f"env={cfg.env.name}: this script builds WebShop examples (env=webshop)")
    start = time.perf_counter()
    suite = make_suite(cfg.env)
    examples = choose_examples(suite)
    source = (f"scripted oracle (search, open the goal product, its options, Buy Now) on the first "
              f"{SPLIT} goals per category, synthetic goals with env.seed={cfg.env.seed}")
    path = save_examples("webshop", source, examples)
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    if not any(arg.startswith("env=") for arg in sys.argv[1:]):
        sys.argv.insert(1, "env=webshop")  # this script only makes sense for WebShop
    main()
