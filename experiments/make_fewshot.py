"""Build ALFWorld few-shot examples by playing train games with the handcoded expert.

Two won games per task type are kept (the authors show two per episode), in prompt order. The
first is the game already in ``hintrag/envs/example_data/alfworld.json`` (a one-example prompt,
``agent.fewshot=1``, shows it, so it must not change; it is replayed and must give the same trace).
The second is the next game after it (sorted trial paths of ``json_2.1.1/train``) of another task
folder, so another room or goal, whose expert run is won in 8-25 steps. With no file yet, both
come from the start of the list (the first file's rule).

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
from hintrag.envs.examples import EXAMPLES_DIR, example_traces, save_examples  # noqa: E402
from hintrag.envs import make_suite  # noqa: E402
from hintrag.envs.alfworld import TASK_TYPES  # noqa: E402

MIN_STEPS, MAX_STEPS, MAX_CANDIDATES, MAX_EPISODE_STEPS = 8, 25, 10, 60
PER_TYPE = 2  # examples kept per task type, in the order a prompt shows them
ENV = "alfworld"


def task_folder(game: str) -> str:
    """The task folder of a game file (<type>-<object>-...-<room>/<trial>/game.tw-pddl): its room and goal."""
    return Path(game).parent.parent.name


def kept_firsts() -> dict[str, dict[str, Any]]:
    """The first stored example of each task type, which later files keep; none before the first file."""
    if not (EXAMPLES_DIR / f"{ENV}.json").exists():
        return {}
    return {kind: traces[0] for kind, traces in example_traces(ENV).items()}


def choose_examples(suite: Any) -> dict[str, list[dict[str, Any]]]:
    """Play PER_TYPE example games per task type (the expert of hintrag/envs/alfworld_expert.py)."""
    specs = sorted(suite.episodes("train"), key=lambda s: s.source)
    kept = kept_firsts()
    chosen = {}
    for kind in sorted(TASK_TYPES):
        first = kept.get(kind)
        games = [s for s in specs if s.category == kind and (not first or game_of(suite, s) >= first["game"])]
        chosen[kind] = pick_games(suite, games[:MAX_CANDIDATES], kind)
        if first and chosen[kind][0] != first:
            raise RuntimeError(f"{kind}: the stored first example {first['game']} no longer replays as stored; "
                               "agent.fewshot=1 prompts would change")
    return chosen


def game_of(suite: Any, spec: Any) -> str:
    return Path(spec.source).relative_to(suite.root).as_posix()


def pick_games(suite: Any, candidates: list[Any], kind: str) -> list[dict[str, Any]]:
    """The first PER_TYPE candidates of distinct task folders the expert wins in MIN_STEPS-MAX_STEPS steps."""
    picked: list[dict[str, Any]] = []
    for spec in candidates:
        if task_folder(spec.source) in {task_folder(p["game"]) for p in picked}:
            continue  # another trial of a picked task: the same room and goal would teach little new
        demo = suite.demonstrate(spec, MAX_EPISODE_STEPS)
        n = len(demo.steps)
        print(f"{kind}: {task_folder(spec.source)} won={demo.won} steps={n}", flush=True)
        if demo.won and MIN_STEPS <= n <= MAX_STEPS:
            picked.append({"game": game_of(suite, spec), "task": demo.task,
                           "initial_observation": demo.initial_observation, "steps": demo.steps, "won": True})
            if len(picked) == PER_TYPE:
                return picked
    raise RuntimeError(f"{len(picked)} expert wins in {MIN_STEPS}-{MAX_STEPS} steps for {kind} among "
                       f"{len(candidates)} games; {PER_TYPE} are needed")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Build the examples from `env.data_dir` and write the JSON file under hintrag/envs/example_data/"""
    start = time.perf_counter()
    examples = choose_examples(make_suite(cfg.env))
    path = save_examples(ENV, "alfworld 0.4.2 handcoded expert on train games", examples)
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
