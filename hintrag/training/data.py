"""Training examples from a run's successful episodes, with the hint block and the example removed.

With agent.prompt=chat each kept episode becomes one chat: the system message (env instruction and
agent format, no hint block, no few-shot example), the task observation, then the model's own
turns and the env's answers (any repeat hint stripped). With agent.prompt=decision each turn
becomes one example: the prompt the agent had at that turn, built by the same `Agent.messages`
that builds it in play, then the turn itself. The student sees what it will see at evaluation
time, so what the hints taught has to live in its weights.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hintrag import envs
from hintrag.agents import Agent
from hintrag.envs import Failures
from hintrag.files import atomic_write_text
from hintrag.llm.base import Message
from hintrag.records import StepRecord


@dataclass
class Example:
    episode_id: str
    category: str
    messages: list[Message]


@dataclass(frozen=True)
class Keep:
    """Which episodes become examples: train.min_reward, train.max_nothing_happens, the env's own
    invalid-action answer (envs.failures), which no kept episode may show, and with
    train.drop_unparsed no turn without a usable action either."""

    min_reward: float = 1.0
    max_nothing_happens: int | None = None
    invalid_text: str | None = None
    drop_unparsed: bool = True

    @classmethod
    def from_config(cls, train: Any, env: Any) -> "Keep":
        limit = train.get("max_nothing_happens")
        return cls(float(train.min_reward), None if limit is None else int(limit), envs.failures(env).invalid,
                   bool(train.get("drop_unparsed", True)))


def drop_reason(rec: dict[str, Any], keep: Keep) -> str | None:
    """Why an episode is not a training example, or None to keep it."""
    if rec["reward"] < keep.min_reward or (keep.min_reward >= 1.0 and not rec["success"]):
        return "not_successful"
    if keep.max_nothing_happens is not None and rec["nothing_happens"] > keep.max_nothing_happens:
        return "nothing_happens"
    if (rec["invalid_actions"] and keep.drop_unparsed) or \
            Failures(invalid=keep.invalid_text).shows_invalid(s["observation"] for s in rec["trace"]):
        return "invalid_action"
    if not rec["trace"]:
        return "no_turns"
    return None


def _trace_and_opening(rec: dict[str, Any], agent: Agent, observation: Callable[[str], str]
                       ) -> tuple[list[StepRecord], list[Message]]:
    """The episode's turns and the opening the student sees (no hints, no example)."""
    trace = [StepRecord(**step) for step in rec["trace"]]
    return trace, agent.opening(observation(rec["initial_observation"]), rec["category"], hints=(), fewshot=False)


def _decisions(rec: dict[str, Any], agent: Agent, observation: Callable[[str], str],
               answer: Callable[[StepRecord], str | None]) -> list[Example]:
    """One example per turn that `answer` answers (None: no example): the prompt the agent had at
    that turn, then the answer."""
    trace, opening = _trace_and_opening(rec, agent, observation)
    return [Example(rec["episode_id"], rec["category"], agent.messages(opening, trace[:t], hints=False)
                    + [{"role": "assistant", "content": said}])
            for t, step in enumerate(trace) if (said := answer(step)) is not None]


def to_examples(rec: dict[str, Any], agent: Agent, observation: Callable[[str], str] = str) -> list[Example]:
    """The episode as the student will play it (no hints, no example, its own turns): one chat
    ending on its last turn, or with decision prompts one example per turn. `observation` shapes
    the first observation (train.task_only: the env's task line alone, as the authors' ALFWorld data)."""
    if agent.prompt == "chat":
        trace, opening = _trace_and_opening(rec, agent, observation)
        chat = agent.messages(opening, trace, hints=False)[:-1]  # end on the model's last turn
        return [Example(rec["episode_id"], rec["category"], chat)]
    return _decisions(rec, agent, observation, lambda step: agent.turn_text(step.output))


def labelled(rec: dict[str, Any]) -> bool:
    """An episode played for the expert's labels (imitation.label=expert): some turn names the
    command the env's expert would have sent from its state."""
    return any(step.get("expert") for step in rec["trace"])


def expert_examples(rec: dict[str, Any], agent: Agent, observation: Callable[[str], str] = str) -> list[Example]:
    """DAgger's examples: the prompt the agent had at each labelled turn, answered with the expert's
    command from that state instead of the agent's own, whether or not the episode was won."""
    return _decisions(rec, agent, observation, lambda step: step.expert or None)


def build(records: Sequence[dict[str, Any]], agent: Agent, keep: Keep,
          observation: Callable[[str], str] = str) -> tuple[list[Example], Counter]:
    """The examples of every kept episode, in the records' order, and why the others were dropped.
    A labelled episode gives its labelled turns whatever its result, each state once: an agent
    that loops meets one state many times ("repeated_state" counts the turns left out)."""
    kept, dropped, states = [], Counter(), set()
    for rec in records:
        if labelled(rec):
            for example in expert_examples(rec, agent, observation):
                state = json.dumps(example.messages)
                if state in states:
                    dropped["repeated_state"] += 1
                    continue
                states.add(state)
                kept.append(example)
            continue
        reason = drop_reason(rec, keep)
        if reason:
            dropped[reason] += 1
        else:
            kept += to_examples(rec, agent, observation)
    return kept, dropped


def split(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Episodes in a seeded shuffle, the last `eval_fraction` of them (rounded, none for tiny sets)
    held out with all their examples, so no turn of a held-out episode is trained on."""
    episodes = list(dict.fromkeys(e.episode_id for e in examples))
    random.Random(seed).shuffle(episodes)
    n_eval = int(round(len(episodes) * eval_fraction)) if len(episodes) >= 2 else 0
    position = {episode: i for i, episode in enumerate(episodes)}
    order = sorted(examples, key=lambda e: position[e.episode_id])  # stable: an episode's turns stay in order
    held = set(episodes[len(episodes) - n_eval:])
    return [e for e in order if e.episode_id not in held], [e for e in order if e.episode_id in held]


def write_jsonl(path: Path, examples: Sequence[Example]) -> None:
    """One {"messages", "episode_id", "category"} object per line; `datasets` loads it as json."""
    lines = [json.dumps({"messages": e.messages, "episode_id": e.episode_id, "category": e.category}) for e in examples]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
