"""Iterated imitation's round curve on a selection split, and the round it chooses.

Plays the warm-started agent of round 0, 1, ... (warm_start.round) on the configured split and
episodes (a selection split such as ALFWorld's valid_seen, never the evaluation split), making
each round's runs on the way through the run store: the demos, mode=imitate with the round r - 1
agent, the BC run of round r. Every step is a cached run, so a killed curve resumes where it
stopped. It stops at the first round whose success does not beat the best so far (at most
`+rounds.max` rounds) and prints the curve and the round to set as warm_start.round.

  python experiments/round_curve.py experiment=small_alfworld split=valid_seen n_episodes=42 +rounds.max=2
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag import stagegraph  # noqa: E402
from hintrag.errors import ConfigError  # noqa: E402
from hintrag.stages import run_mode  # noqa: E402
from hintrag.store import with_values  # noqa: E402
from hintrag.warmstart import round_curve  # noqa: E402


def round_success(cfg: DictConfig, round_: int) -> dict:
    """Make round `round_`'s warm start (its imitation games and BC run) and play it on the split."""
    at = with_values(cfg, {"warm_start.round": round_})
    if round_ > 0:
        run_mode(with_values(at, {"mode": "imitate", "split": cfg.demos.split, "warm_start.round": round_ - 1}))
    link = stagegraph.warm_start_link(at)
    run_mode(with_values(at, {**link.overrides, "mode": "train"}))
    return run_mode(with_values(at, {"mode": "rollout"}))


def check_selection(cfg: DictConfig) -> None:
    """A curve of the warm start is measured on a selection split, never the evaluation split."""
    if str(cfg.split) == str(cfg.env.eval_split):
        raise ConfigError(f"split={cfg.split} is {cfg.env.name}'s evaluation split; choose settings on another "
                          "(ALFWorld: split=valid_seen)")
    if not cfg.model.get("warm_start"):
        raise ConfigError("the curve is of the warm start; set model.warm_start=bc")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    check_selection(cfg)
    run_mode(with_values(cfg, {"mode": "demos"}))
    runs: dict[int, dict] = {}

    def success(round_: int) -> float:
        runs[round_] = round_success(cfg, round_)
        print(f"round {round_}: success {runs[round_]['success_rate']:.1%} on {runs[round_]['n_episodes']} "
              f"{cfg.split} episodes -> {runs[round_]['run']}", flush=True)
        return float(runs[round_]["success_rate"])

    curve, chosen = round_curve(success, int((cfg.get("rounds") or {}).get("max", 2)))
    print(json.dumps({"split": str(cfg.split), "curve": curve, "chosen_round": chosen,
                      "runs": [runs[r]["run"] for r in range(len(curve))]}, indent=1))

if __name__ == "__main__":
    main()
