"""Solved example episodes, one source for every agent format.

Traces come from each env's scripted expert (`experiments/make_fewshot*.py`); thoughts are written
by hand in a separate file keyed by step index, so regenerating traces never loses them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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


def save_examples(env: str, source: str, examples: dict[str, dict[str, Any]]) -> Path:
    """Write an env's example traces (what `load_examples` reads); the thoughts file is left alone."""
    path = EXAMPLES_DIR / f"{env}.json"
    atomic_write_text(path, json.dumps({"env": env, "source": source, "examples": examples}, indent=1) + "\n")
    return path


@lru_cache(maxsize=None)
def load_examples(env: str) -> dict[str, ExampleEpisode]:
    """Example episodes of an env by category, with the hand-written thoughts merged in."""
    traces = json.loads((EXAMPLES_DIR / f"{env}.json").read_text())["examples"]
    thoughts_file = EXAMPLES_DIR / f"{env}_thoughts.json"
    thoughts = json.loads(thoughts_file.read_text()) if thoughts_file.exists() else {}
    out = {}
    for category, ex in traces.items():
        notes = thoughts.get(category, {})
        if notes and notes["game"] != ex["game"]:
            raise ValueError(f"{thoughts_file}: thoughts for {category} were written for {notes['game']}, not {ex['game']}")
        said = notes.get("thoughts", {})
        steps = tuple(
            ExampleStep(s["action"], s["observation"], said.get(str(i))) for i, s in enumerate(ex["steps"])
        )
        out[category] = ExampleEpisode(category, ex["initial_observation"], steps)
    return out
