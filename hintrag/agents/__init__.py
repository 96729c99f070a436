"""Agent formats, chosen by `agent=` in the config."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.agents.base import Agent, Parsed
from hintrag.errors import ConfigError

AGENTS = ("react",)


def make_agent(agent: DictConfig, env: DictConfig) -> Agent:
    if agent.name == "react":
        from hintrag.agents.react import ReActAgent

        return ReActAgent(agent, env)
    raise ConfigError(f"unknown agent {agent.name!r}; choose one of {', '.join(AGENTS)} (agent=...)")


__all__ = ["Agent", "Parsed", "make_agent", "AGENTS"]
