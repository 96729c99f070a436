"""Build ALFWorld few-shot examples by playing train games with the handcoded expert.

One won game per task type is picked from ``json_2.1.1/train`` (sorted trial paths, first
game whose expert run is won in 8-25 steps) and its trace is written to a JSON file.

Usage: ``python experiments/make_fewshot.py env.data_dir=../shared/data/alfworld`` (the project's
Hydra config; ``$ALFWORLD_DATA`` works too).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

import hydra
import textworld
import textworld.gym
from alfworld.agents.environment.alfred_tw_env import (
    AlfredDemangler,
    AlfredExpert,
    AlfredInfos,
)
from alfworld.agents.expert import HandCodedTWAgent
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.agents.examples import save_examples  # noqa: E402
from hintrag.envs.alfworld import BANNER, TASK_TYPES, check_data_dir, task_type  # noqa: E402

# No-op commands the expert emits as filler ("look" on an inadmissible plan, or a random
# admissible command when it would repeat itself); they change nothing, so they are dropped.
FILLER = frozenset({"look", "help", "inventory"})
MIN_STEPS, MAX_STEPS, MAX_CANDIDATES, MAX_EPISODE_STEPS = 8, 25, 10, 60


class FixedHandCodedAgent(HandCodedTWAgent):
    """Handcoded expert whose state tracking treats the 0.4.x "move" verb as "put"."""

    def reset(self, game: str = "INVALID") -> None:
        """Build the task policy, then alias move->put in its state tracking only."""
        super().reset(game)
        track: Callable[[dict[str, Any], str], None] = self.policy.update_state_tracking

        def tracking(game_state: dict[str, Any], last_action: str) -> None:
            if last_action.startswith("move "):
                last_action = "put " + last_action[len("move "):]
            track(game_state, last_action)

        self.policy.update_state_tracking = tracking


class FixedAlfredExpert(AlfredExpert):
    """AlfredExpert wrapper that uses :class:`FixedHandCodedAgent`."""

    def load(self, gamefile: str) -> None:
        """Load the game and swap in the fixed expert."""
        super().load(gamefile)
        self._handcoded_expert = FixedHandCodedAgent(max_steps=200)


def clean_observation(obs: str) -> str:
    """Strip whitespace and the TextWorld welcome banner."""
    return obs.replace(BANNER, "").strip()


def play_expert(gamefile: Path) -> dict[str, Any]:
    """Play one game by always following the expert's plan; return the trace."""
    infos = textworld.EnvInfos(
        won=True, admissible_commands=True, extras=["gamefile", "expert_plan"]
    )
    env_id = textworld.gym.register_games(
        [str(gamefile)],
        infos,
        batch_size=1,
        asynchronous=False,
        max_episode_steps=MAX_EPISODE_STEPS,
        wrappers=[AlfredDemangler(shuffle=False), AlfredInfos, FixedAlfredExpert("handcoded")],
    )
    env = textworld.gym.make(env_id)
    random.seed(0)  # the expert breaks action loops with random.choice
    try:
        obs, info = env.reset()
        initial = clean_observation(obs[0])
        steps: list[dict[str, str]] = []
        done, won = False, False
        while not done:
            action = info["extra.expert_plan"][0][0]
            obs, _, dones, info = env.step([action])
            done, won = bool(dones[0]), bool(info["won"][0])
            if action not in FILLER:
                steps.append({"action": action, "observation": obs[0].strip()})
    finally:
        env.close()
    task = next(line.strip() for line in initial.splitlines() if line.startswith("Your task is to:"))
    return {"task": task, "initial_observation": initial, "steps": steps, "won": won}


def choose_examples(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Pick and play one example game per task type."""
    games = sorted((data_dir / "json_2.1.1" / "train").glob("*/*/game.tw-pddl"))
    examples: dict[str, dict[str, Any]] = {}
    for kind in sorted(TASK_TYPES):
        candidates = [g for g in games if task_type(g) == kind][:MAX_CANDIDATES]
        for game in candidates:
            trace = play_expert(game)
            n = len(trace["steps"])
            print(f"{kind}: {game.parent.parent.name} won={trace['won']} steps={n}", flush=True)
            if trace["won"] and MIN_STEPS <= n <= MAX_STEPS:
                examples[kind] = {"game": game.relative_to(data_dir).as_posix(), **trace}
                break
        else:
            raise RuntimeError(f"no expert win in {MIN_STEPS}-{MAX_STEPS} steps for {kind}")
    return examples


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Build the examples from `env.data_dir` and write the JSON file beside the agents."""
    data_dir = check_data_dir(cfg.env.data_dir, "train").resolve()
    start = time.perf_counter()
    examples = choose_examples(data_dir)
    path = save_examples("alfworld", "alfworld 0.4.2 handcoded expert on train games", examples)
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
