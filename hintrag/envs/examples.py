"""Solved example episodes, one source for every agent format.

Traces come from each env's scripted expert (`experiments/make_fewshot*.py`); thoughts are written
by hand in a separate file keyed by game and step index, so regenerating traces never loses them.
A category holds one example (a trace object, the first form) or several (a list, in the order a
prompt shows them); both files accept both forms, so files written before either way still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from hintrag.files import atomic_write_text

EXAMPLES_DIR = Path(__file__).parent / "example_data"  # <env>.json traces, <env>_thoughts.json thoughts


@dataclass(frozen=True)
class ExampleStep:
    action: str
    observation: str
    thought: str | None = None  # spoken just before `action`


@dataclass(frozen=True)
class ExampleEpisode:
    category: str
    initial_observation: str
    steps: tuple[ExampleStep, ...]


def save_examples(env: str, source: str, examples: Mapping[str, dict[str, Any] | list[dict[str, Any]]]) -> Path:
    """Write an env's example traces (what `load_example_sets` reads); the thoughts file is left alone."""
    path = EXAMPLES_DIR / f"{env}.json"
    atomic_write_text(path, json.dumps({"env": env, "source": source, "examples": examples}, indent=1) + "\n")
    return path


def _as_list(entry: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A category's entries: one object (the single-example form) or a list of them."""
    return entry if isinstance(entry, list) else [entry]


def _thoughts_by_game(path: Path, category: str, entry: Any, games: list[str]) -> dict[str, dict[str, str]]:
    """A category's thoughts keyed by game; thoughts for a game the traces no longer hold are an error,
    since they were written against another trace."""
    notes = {n["game"]: n["thoughts"] for n in _as_list(entry)} if entry else {}
    stale = sorted(set(notes) - set(games))
    if stale:
        raise ValueError(f"{path}: thoughts for {category} were written for {', '.join(stale)}, not {', '.join(games)}")
    return notes


def _episode(category: str, trace: dict[str, Any], said: dict[str, str]) -> ExampleEpisode:
    steps = tuple(ExampleStep(s["action"], s["observation"], said.get(str(i))) for i, s in enumerate(trace["steps"]))
    return ExampleEpisode(category, trace["initial_observation"], steps)


def example_traces(env: str) -> dict[str, list[dict[str, Any]]]:
    """An env's stored traces by category, as lists in prompt order (what `save_examples` wrote)."""
    traces = json.loads((EXAMPLES_DIR / f"{env}.json").read_text())["examples"]
    return {category: _as_list(entry) for category, entry in traces.items()}


@lru_cache(maxsize=None)
def load_example_sets(env: str) -> dict[str, tuple[ExampleEpisode, ...]]:
    """Every example episode of an env by category, in file order, with the hand-written thoughts merged in."""
    thoughts_file = EXAMPLES_DIR / f"{env}_thoughts.json"
    thoughts = json.loads(thoughts_file.read_text()) if thoughts_file.exists() else {}
    out = {}
    for category, traces in example_traces(env).items():
        notes = _thoughts_by_game(thoughts_file, category, thoughts.get(category), [t["game"] for t in traces])
        out[category] = tuple(_episode(category, t, notes.get(t["game"], {})) for t in traces)
    return out


def load_examples(env: str) -> dict[str, ExampleEpisode]:
    """The first example of each category: the one a one-example prompt shows."""
    return {category: episodes[0] for category, episodes in load_example_sets(env).items()}


def examples_per_category(env: str) -> int:
    """How many examples every category of the env has: the most a prompt can show."""
    return min(len(episodes) for episodes in load_example_sets(env).values())
