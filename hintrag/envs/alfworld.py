"""ALFWorld 0.4.2 text games through TextWorld, one gym env per running episode.

Games are collected the way ALFWorld's own AlfredTWEnv does (skip movable/sliced tasks and
unsolvable games), but in a deterministic order and with stable ids, so runs resume by id.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path

from omegaconf import DictConfig

from hintrag.envs.base import Demo, EpisodeSpec, Failures, Observation, play_policy
from hintrag.errors import ConfigError

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
SPLITS = ("train", "valid_seen", "valid_unseen")
BANNER = "-= Welcome to TextWorld, ALFRED! =-"
NOTHING = "Nothing happens."  # the game's answer to a command it cannot carry out
# `env` keys that do not decide an episode's result, beside those every env has (hintrag.envs).
NOT_RESULT = {"order": "which episodes come first (scope, like n_episodes); an episode's play does not change"}
# `env` keys added after runs were stored, at the value that plays as before (hintrag.envs.added).
ADDED = {"max_actions": None}


def task_only(observation: str) -> str:
    """The first observation without the room's receptacle list: `Your task is to: ...` alone, as
    the authors' ALFWorld student data kept it (everything after the last `Your task is to:`)."""
    marker = "Your task is to:"
    return marker + observation.rsplit(marker, 1)[1] if marker in observation else observation


def failures(env: DictConfig) -> Failures:
    """ALFWorld answers "Nothing happens." to a command it cannot carry out; it has no invalid-action text."""
    return Failures(nothing=NOTHING)

DOWNLOAD_HINT = (
    "set env.data_dir=/path/to/alfworld_data (or export ALFWORLD_DATA); "
    "get the data with `alfworld-download` (pip install alfworld==0.4.2)"
)
_PUT = re.compile(r"^put (.+?) (?:in/on|in|on|into|onto|inside) (.+)$")


def task_type(game_path: str | Path) -> str:
    """Task type of a game: its grandparent folder's name up to the first '-'."""
    return Path(game_path).parent.parent.name.split("-")[0]


def canonical_action(action: str, admissible: list[str]) -> str:
    """Lower-case and map the pre-0.4 `put X in/on Y` to the `move X to Y` that 0.4.2 admits."""
    action = " ".join(action.strip().lower().split())
    match = _PUT.match(action)
    if match:
        moved = f"move {match.group(1)} to {match.group(2)}"
        if moved in admissible or action not in admissible:
            return moved
    return action


def check_data_dir(data_dir: str | None, split: str | None = None) -> Path:
    """Fail early, naming env.data_dir and alfworld-download, if the data is missing or wrong."""
    if not data_dir:
        raise ConfigError(f"ALFWorld data location is not set: {DOWNLOAD_HINT}")
    root = Path(data_dir).expanduser()
    if not (root / "json_2.1.1").is_dir():
        raise ConfigError(f"env.data_dir={root} has no json_2.1.1/ folder: {DOWNLOAD_HINT}")
    if not (root / "logic" / "alfred.twl2").is_file():
        raise ConfigError(f"env.data_dir={root} has no logic/alfred.twl2: {DOWNLOAD_HINT}")
    if split is not None:
        if split not in SPLITS:
            raise ConfigError(f"unknown ALFWorld split {split!r}; choose one of {', '.join(SPLITS)} (split=...)")
        if not (root / "json_2.1.1" / split).is_dir():
            raise ConfigError(f"env.data_dir={root} has no json_2.1.1/{split}/: {DOWNLOAD_HINT}")
    return root


def _playable(game: Path) -> bool:
    """ALFWorld's own filter: no movable receptacles, no sliced objects, solvable games only."""
    trial = str(game.parent)
    if "movable" in trial or "Sliced" in trial:
        return False
    with game.open() as handle:
        return bool(json.load(handle).get("solvable", False))


class AlfWorldSuite:
    """The 6-task-type ALFWorld suite over a data folder in the $ALFWORLD_DATA layout."""

    name = "alfworld"
    categories = TASK_TYPES
    failures = Failures(nothing=NOTHING)
    scored = False
    reference_policy = "a uniformly random admissible command each step (seeded)"
    labels_any_state = True  # the handcoded expert tracks the game from whatever commands were sent

    def __init__(self, env: DictConfig) -> None:
        self.root = check_data_dir(env.data_dir)
        self.order = str(env.order)
        if self.order not in ("interleave", "sorted"):
            raise ConfigError(f"env.order={self.order!r} is not one of interleave, sorted")
        cap = env.get("max_actions")
        if cap is not None and int(cap) < 1:
            raise ConfigError(f"env.max_actions={cap} must be at least 1, or null for no cap")
        self.max_actions = None if cap is None else int(cap)

    def episodes(self, split: str) -> list[EpisodeSpec]:
        """Every playable game of the split, sorted, optionally interleaved across task types."""
        check_data_dir(str(self.root), split)
        games = sorted(p for p in (self.root / "json_2.1.1" / split).glob("*/*/game.tw-pddl") if _playable(p))
        if not games:
            raise ConfigError(f"no playable games in {self.root / 'json_2.1.1' / split}: {DOWNLOAD_HINT}")
        specs = [
            EpisodeSpec(id=str(g.parent.relative_to(self.root / "json_2.1.1")), category=task_type(g), source=str(g))
            for g in games
        ]
        if self.order == "sorted":
            return specs
        by_type: dict[str, list[EpisodeSpec]] = defaultdict(list)
        for spec in specs:
            by_type[spec.category].append(spec)
        rounds = zip_longest(*(by_type[t] for t in TASK_TYPES if t in by_type))
        return [spec for batch in rounds for spec in batch if spec is not None]

    def make(self, spec: EpisodeSpec, expert: bool = False) -> "AlfWorldEpisode":
        return AlfWorldEpisode(spec, self.max_actions, expert)

    def demonstrate(self, spec: EpisodeSpec, max_steps: int) -> Demo:
        from hintrag.envs.alfworld_expert import play_expert

        return play_expert(spec, max_steps)

    def reference(self, spec: EpisodeSpec, max_steps: int, seed: int) -> Demo:
        """A uniformly random admissible command each step, seeded by the seed and the game."""
        rng = random.Random(f"{seed}-{spec.id}")
        return play_policy(self.make(spec), lambda obs: rng.choice(obs.choices), max_steps)


class AlfWorldEpisode:
    """One TextWorld game with ALFWorld's demangler (no shuffling) and admissible commands.

    With `max_actions` the game ends after that many commands, as alfworld's own env ends it after
    `max_nb_steps_per_episode` (TextWorld's step limit): every command counts, an unparsed output
    too (the authors' runner sent it to the game), a thought does not (it never reaches the game).
    With `expert` the handcoded expert follows the game from the commands sent and each Observation
    names its next command (alfworld's own DAgger labels; BUTLER was trained on them)."""

    def __init__(self, spec: EpisodeSpec, max_actions: int | None = None, expert: bool = False) -> None:
        self.spec = spec
        self.expert = expert
        self.task = ""
        self.max_actions = max_actions
        self.actions = 0
        self._env = None
        self._admissible: list[str] = []

    def _spend(self) -> bool:
        """Count one command; True when it was the last one the cap allows."""
        self.actions += 1
        return self.max_actions is not None and self.actions >= self.max_actions

    def reset(self) -> Observation:
        import textworld
        import textworld.gym
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

        wrappers = [AlfredDemangler(shuffle=False), AlfredInfos]
        if self.expert:
            from hintrag.envs.alfworld_expert import expert_wrapper

            wrappers.append(expert_wrapper()("handcoded"))
            random.seed(0)  # the expert breaks ties with random.choice (as in play_expert)
        infos = textworld.EnvInfos(won=True, admissible_commands=True,
                                   extras=["gamefile", "expert_plan"] if self.expert else ["gamefile"])
        env_id = textworld.gym.register_games(
            [self.spec.source], infos, batch_size=1, asynchronous=False, max_episode_steps=100_000, wrappers=wrappers,
        )
        self._env = textworld.gym.make(env_id)
        self.actions = 0
        obs, info = self._env.reset()
        text = obs[0].replace(BANNER, "").strip()
        self.task = text.split("Your task is to:")[-1].strip() if "Your task is to:" in text else ""
        self._admissible = list(info["admissible_commands"][0])
        return Observation(text=text, admissible=self._admissible, choices=self._admissible, expert=self._label(info))

    def _label(self, info: dict) -> str:
        """The expert's next command, or "" without an expert or where it only marks time (its filler)."""
        if not self.expert:
            return ""
        from hintrag.envs.alfworld_expert import FILLER

        plan = info["extra.expert_plan"][0]
        command = plan[0] if plan else ""
        return "" if command in FILLER or command not in self._admissible else command

    def step(self, action: str) -> Observation:
        command = canonical_action(action, self._admissible)
        obs, scores, dones, info = self._env.step([command])
        self._admissible = list(info["admissible_commands"][0])
        won = bool(info["won"][0])
        capped = self._spend()
        return Observation(
            text=obs[0].strip(), done=bool(dones[0]) or won or capped, won=won, reward=float(won),
            admissible=self._admissible, choices=self._admissible, expert=self._label(info),
        )

    def no_action(self) -> Observation:
        return Observation(text=NOTHING, done=self._spend(), admissible=self._admissible, choices=self._admissible)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
