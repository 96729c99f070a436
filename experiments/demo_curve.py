"""The warm start's success against its number of expert demonstrations, on a selection split.

For each `demos.per_category` in `+curve.per_category` it makes the demos, the round-0 BC run on
them and plays that agent on the configured split and episodes (ALFWorld's valid_seen, never the
evaluation split), each a cached run of the store, so a killed curve resumes where it stopped.
It prints one line per point (demos, decisions trained, success with its Wilson interval) and the
runs, to choose demos.per_category there.

  python experiments/demo_curve.py experiment=small_alfworld split=valid_seen n_episodes=42 \
      '+curve.per_category=[10,34,100]'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.errors import ConfigError  # noqa: E402
from hintrag.stages import run_mode  # noqa: E402
from hintrag.stats import wilson  # noqa: E402
from hintrag.store import with_values  # noqa: E402
from round_curve import check_selection, round_success  # noqa: E402


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    check_selection(cfg)
    counts = [int(n) for n in (cfg.get("curve") or {}).get("per_category", [])]
    if not counts:
        raise ConfigError("no demo counts: pass '+curve.per_category=[10,34,100]' (demos per task type)")
    points = []
    for n in counts:
        at = with_values(cfg, {"demos.per_category": n, "warm_start.round": 0})
        demos = run_mode(with_values(at, {"mode": "demos"}))
        played = round_success(at, 0)
        won, games = round(played["success_rate"] * played["n_episodes"]), int(played["n_episodes"])
        ci = wilson(won, games)
        points.append({"per_category": n, "demos": demos["n_episodes"], "won": won, "games": games,
                       "wilson": [round(ci.low, 3), round(ci.high, 3)], "run": played["run"]})
        print(f"{demos['n_episodes']} demos: {won}/{games} on {cfg.split} [{ci.low:.1%}, {ci.high:.1%}] -> "
              f"{played['run']}", flush=True)
    print(json.dumps({"split": str(cfg.split), "curve": points}, indent=1))


if __name__ == "__main__":
    main()
