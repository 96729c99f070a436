"""Text environments, chosen by `env=` in the config."""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.envs.base import Episode, EpisodeSpec, Observation, Suite
from hintrag.errors import ConfigError

ENVS = ("alfworld", "webshop")


def make_suite(env: DictConfig) -> Suite:
    """Build the configured environment suite; checks its data before anything expensive runs."""
    if env.name == "alfworld":
        from hintrag.envs.alfworld import AlfWorldSuite

        return AlfWorldSuite(env)
    if env.name == "webshop":
        from hintrag.envs.webshop import WebShopSuite

        return WebShopSuite(env)
    raise ConfigError(f"unknown env {env.name!r}; choose one of {', '.join(ENVS)} (env=...)")


__all__ = ["Episode", "EpisodeSpec", "Observation", "Suite", "make_suite", "ENVS"]
