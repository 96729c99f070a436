"""Agent formats, chosen by `agent=` in the config."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.agents.base import Agent, Parsed
from hintrag.errors import ConfigError

AGENTS = ("react", "act", "stateact")


def make_agent(agent: DictConfig, env: DictConfig) -> Agent:
    """ReAct and Act share one implementation (Act has `thoughts: false`); StateAct has its own."""
    if agent.name in ("react", "act"):
        from hintrag.agents.react import ReActAgent

        return ReActAgent(agent, env)
    if agent.name == "stateact":
        from hintrag.agents.stateact import StateActAgent

        return StateActAgent(agent, env)
    raise ConfigError(f"unknown agent {agent.name!r}; choose one of {', '.join(AGENTS)} (agent=...)")


__all__ = ["Agent", "Parsed", "make_agent", "AGENTS"]
