"""ALFWorld's handcoded expert playing a game: expert demonstrations (`mode=demos`) and the
few-shot examples (experiments/make_fewshot.py) both come from here.

alfworld 0.4.x renamed the game's "put" verb to "move" but its expert's state tracking still
expects "put", so it loses track after the first placement; the fix aliases the verb in the
tracking only.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from hintrag.envs.alfworld import BANNER
from hintrag.envs.base import Demo, EpisodeSpec

# No-op commands the expert emits as filler ("look" on an inadmissible plan, or a random
# admissible command when it would repeat itself); they change nothing, so they are not shown.
FILLER = frozenset({"look", "help", "inventory"})


def expert_wrapper():
    """ALFWorld's expert wrapper class with the move/put fix (alfworld is imported lazily)."""
    from alfworld.agents.environment.alfred_tw_env import AlfredExpert
    from alfworld.agents.expert import HandCodedTWAgent

    class FixedHandCodedAgent(HandCodedTWAgent):
        def reset(self, game: str = "INVALID") -> None:
            super().reset(game)
            track: Callable[[dict[str, Any], str], None] = self.policy.update_state_tracking

            def tracking(game_state: dict[str, Any], last_action: str) -> None:
                if last_action.startswith("move "):
                    last_action = "put " + last_action[len("move "):]
                track(game_state, last_action)

            self.policy.update_state_tracking = tracking

    class FixedAlfredExpert(AlfredExpert):
        def load(self, gamefile: str) -> None:
            super().load(gamefile)
            self._handcoded_expert = FixedHandCodedAgent(max_steps=200)

    return FixedAlfredExpert


def play_expert(spec: EpisodeSpec, max_steps: int) -> Demo:
    """Play one game by always following the expert's plan, at most `max_steps` commands."""
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile", "expert_plan"])
    env_id = textworld.gym.register_games(
        [spec.source], infos, batch_size=1, asynchronous=False, max_episode_steps=max_steps,
        wrappers=[AlfredDemangler(shuffle=False), AlfredInfos, expert_wrapper()("handcoded")],
    )
    env = textworld.gym.make(env_id)
    random.seed(0)  # the expert breaks action loops with random.choice
    try:
        obs, info = env.reset()
        initial = obs[0].replace(BANNER, "").strip()
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
    task = next((line.strip() for line in initial.splitlines() if line.startswith("Your task is to:")), "")
    return Demo(task, initial, steps, won, float(won), "won" if won else "max_steps")
