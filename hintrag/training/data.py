"""Training examples from a run's successful episodes, with the hint block and the example removed.

Each kept episode becomes one chat: the system message (env instruction and agent format, no
hint block, no few-shot example), the task observation, then the model's own turns and the env's
answers (any repeat hint stripped). The student sees what it will see at evaluation time, so
what the hints taught has to live in its weights.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hintrag.agents import Agent
from hintrag.llm.base import Message
from hintrag.records import StepRecord
from hintrag.store import atomic_write_text


@dataclass
class Example:
    episode_id: str
    category: str
    messages: list[Message]


@dataclass(frozen=True)
class Keep:
    """Which episodes become examples: train.min_reward, train.max_nothing_happens, the env's invalid text."""

    min_reward: float = 1.0
    max_nothing_happens: int | None = None
    invalid_text: str | None = None

    @classmethod
    def from_config(cls, train: Any, env: Any) -> "Keep":
        limit = train.get("max_nothing_happens")
        return cls(float(train.min_reward), None if limit is None else int(limit), env.get("invalid_action_text"))


def drop_reason(rec: dict[str, Any], keep: Keep) -> str | None:
    """Why an episode is not a training example, or None to keep it."""
    if rec["reward"] < keep.min_reward or (keep.min_reward >= 1.0 and not rec["success"]):
        return "not_successful"
    if keep.max_nothing_happens is not None and rec["nothing_happens"] > keep.max_nothing_happens:
        return "nothing_happens"
    if rec["invalid_actions"] or (keep.invalid_text and any(s["observation"] == keep.invalid_text for s in rec["trace"])):
        return "invalid_action"
    if not rec["trace"]:
        return "no_turns"
    return None


def to_example(rec: dict[str, Any], agent: Agent) -> Example:
    """The episode as the student will play it: no hints, no example, its own turns."""
    trace = [StepRecord(**step) for step in rec["trace"]]
    opening = agent.opening(rec["initial_observation"], rec["category"], hints=(), fewshot=False)
    chat = agent.messages(opening, trace, hints=False)[:-1]  # end on the model's last turn
    return Example(rec["episode_id"], rec["category"], chat)


def build(records: Sequence[dict[str, Any]], agent: Agent, keep: Keep) -> tuple[list[Example], Counter]:
    kept, dropped = [], Counter()
    for rec in records:
        reason = drop_reason(rec, keep)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(to_example(rec, agent))
    return kept, dropped


def split(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle, then the last `eval_fraction` (rounded, none for tiny sets) held out."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    n_eval = int(round(len(order) * eval_fraction)) if len(order) >= 2 else 0
    return order[: len(order) - n_eval], order[len(order) - n_eval :]


def write_jsonl(path: Path, examples: Sequence[Example]) -> None:
    """One {"messages", "episode_id", "category"} object per line; `datasets` loads it as json."""
    lines = [json.dumps({"messages": e.messages, "episode_id": e.episode_id, "category": e.category}) for e in examples]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
