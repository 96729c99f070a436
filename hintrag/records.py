"""Trajectory records: one JSON line per finished episode, identical across agents and backends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hintrag.llm.base import Message


@dataclass
class StepRecord:
    """One model turn: what the model wrote, the action parsed from it, and what the env answered."""

    output: str  # everything the model generated this turn
    action: str  # parsed action ("think: ..." for thoughts, "" when nothing could be parsed)
    kind: str  # act | think | invalid
    observation: str  # the env's answer ("OK." for thoughts)
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    extra_hint: str = ""  # a hint appended to this observation (teacher's optional repeat hint)
    expert: str = ""  # the env's expert's command from the state this turn was taken in (imitation.label=expert)


@dataclass
class EpisodeRecord:
    """A finished episode. `prompt` is the opening chat (instruction, hint block, example, task); the
    prompt of step t is `prompt` plus the history of steps < t, rendered by the agent. The same
    fields for every agent and every stage that plays episodes."""

    episode_id: str
    category: str
    task: str
    initial_observation: str
    success: bool
    reward: float
    steps: int
    end_reason: str  # won | max_steps | repeats | context | done
    nothing_happens: int
    repetitions: int
    invalid_actions: int
    prompt_tokens: int
    completion_tokens: int
    retrieval_tokens: int  # spent choosing hints (teacher); counted in total_tokens
    total_tokens: int
    prompt: list[Message]
    trace: list[StepRecord] = field(default_factory=list)
    retrieval: dict[str, Any] | None = None  # method, hint ids and texts, tokens (teacher only)
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
