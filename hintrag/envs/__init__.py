"""Text environments, chosen by `env=` in the config; what generic code needs to know of each env."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Callable

from omegaconf import DictConfig

from hintrag.envs.base import Episode, EpisodeSpec, Failures, Observation, Suite
from hintrag.errors import ConfigError

ENVS = ("alfworld", "webshop")

# Keys of `env` that do not decide an episode's result, so run keys leave them out (each with why).
# Keys every env has:
COMMON_NOT_RESULT = {
    "data_dir": "a path to the data; the episode ids and their contents are what count",
    "eval_split": "only the default of `split`, which is hashed itself",
    "max_hints_per_failure": "Stage B's default for hints.max_hints, which is hashed itself",
    "state_keys": "StateAct's default for agent.keys, which is hashed itself",
    "train": "Stage D's defaults for train.*, which are hashed themselves",
}

# Keys of `env` added after runs were stored, each with the value that behaves as before it existed:
# run keys leave a key out while it holds that value (hintrag.stagespec.at_default). Keys every env has:
COMMON_ADDED: dict[str, Any] = {"repeat_on": "action"}


def declaration(name: str) -> ModuleType | None:
    """The env's own module, which declares its non-result keys (NOT_RESULT) and its failure
    signals (`failures(env config)`); cheap to import: no game is loaded."""
    if name == "alfworld":
        from hintrag.envs import alfworld as module
    elif name == "webshop":
        from hintrag.envs import webshop as module
    else:
        return None
    return module


def not_result(env: DictConfig) -> dict[str, str]:
    """`env` keys outside every run key, with the reason, for the configured env."""
    module = declaration(str(env.name))
    return {**COMMON_NOT_RESULT, **(module.NOT_RESULT if module else {})}


def added(env: DictConfig) -> dict[str, Any]:
    """`env` keys added later, with the value that reproduces the behaviour from before them."""
    module = declaration(str(env.name))
    return {**COMMON_ADDED, **(getattr(module, "ADDED", {}) if module else {})}


def task_only(env: DictConfig) -> Callable[[str], str]:
    """The env's first observation cut to its task (train.task_only), as the env declares it
    (`task_only` in its module); an env that declares none keeps the whole observation."""
    module = declaration(str(env.name))
    return getattr(module, "task_only", str) if module else str


def failures(env: DictConfig) -> Failures:
    """How the configured env says an action failed, read from its config without loading the game."""
    module = declaration(str(env.name))
    if module is None:
        raise ConfigError(f"unknown env {env.name!r}; choose one of {', '.join(ENVS)} (env=...)")
    return module.failures(env)


def make_suite(env: DictConfig) -> Suite:
    """Build the configured environment suite; checks its data before anything expensive runs."""
    if env.name == "alfworld":
        from hintrag.envs.alfworld import AlfWorldSuite

        return AlfWorldSuite(env)
    if env.name == "webshop":
        from hintrag.envs.webshop.env import WebShopSuite

        return WebShopSuite(env)
    raise ConfigError(f"unknown env {env.name!r}; choose one of {', '.join(ENVS)} (env=...)")


StateReader = tuple[Callable[[str], str], Callable[[Any, str], list[dict[str, str]]]]


def state_reader(name: str) -> StateReader:
    """StateAct's view of an env: the goal from the first observation, and the states of a solved
    example read off its trace (a dict of block keys before each step)."""
    if name == "alfworld":
        from hintrag.envs import alfworld_state as reader
    elif name == "webshop":
        from hintrag.envs.webshop import state as reader
    else:
        raise ConfigError(f"StateAct has no state reader for env {name!r}; known: {', '.join(ENVS)}")
    return reader.goal, reader.example_states


DecisionView = Callable[[str, list[tuple[str, str]], int], str]


def decision_view(name: str, recent_turns: int | None = None, memory: bool = False,
                  task_last: bool = False) -> DecisionView:
    """The env's compact state for agent.prompt=decision: (first observation, (action,
    observation) turns so far, page words) -> the text the agent decides from. `recent_turns`,
    `memory` and `task_last` are options of a view that declares them (`VIEW_OPTIONS` in its module)."""
    if name == "alfworld":
        from hintrag.envs import alfworld_state as reader
    elif name == "webshop":
        from hintrag.envs.webshop import state as reader
    else:
        raise ConfigError(f"agent.prompt=decision has no state view for env {name!r}; known: {', '.join(ENVS)}")
    options = {"recent_turns": recent_turns, "memory": memory, "task_last": task_last}
    chosen = {k: v for k, v in options.items() if v not in (None, False)}
    unknown = [k for k in chosen if k not in getattr(reader, "VIEW_OPTIONS", ())]
    if unknown:
        raise ConfigError(f"agent.{' and agent.'.join(unknown)}: {name}'s decision state has no such option; "
                          "leave it at its default (null/false)")
    if recent_turns is not None and recent_turns < 0:
        raise ConfigError(f"agent.recent_turns={recent_turns} must be >= 0 (or null)")
    if task_last and not memory:
        raise ConfigError("agent.task_last moves the task line of the memory state; set agent.memory=true as well")
    return functools.partial(reader.decision_view, **chosen)


__all__ = ["decision_view", "Episode", "EpisodeSpec", "Failures", "Observation", "Suite", "failures", "make_suite",
           "not_result", "added", "task_only", "state_reader", "ENVS"]
