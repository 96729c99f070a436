"""Scripted episodes as ordinary trajectory records (same schema as Stage A, token fields 0).
Expert demonstrations: the env's scripted expert plays and the agent renders each expert step in
its own format, so a demo trains a student exactly as a successful Stage A episode would. The env's
reference policy: its actions as taken, for the report's floor row.
"""

from __future__ import annotations

import time
from collections import defaultdict

from hintrag.agents import Agent
from hintrag.envs.examples import ExampleEpisode, ExampleStep
from hintrag.envs import EpisodeSpec, Failures, Suite
from hintrag.envs.base import Demo
from hintrag.records import EpisodeRecord, StepRecord

EXPERT = "expert"  # the finish reason of a turn the expert wrote
POLICY = "policy"  # the finish reason of a turn the env's reference policy took


def demo_games(suite: Suite, split: str, per_category: int) -> list[EpisodeSpec]:
    """The last `per_category` episodes of each category of the split, by id: Stage A and the
    teacher play a split's first episodes, so demonstrations come from the other end."""
    by_category: dict[str, list[EpisodeSpec]] = defaultdict(list)
    for spec in sorted(suite.episodes(split), key=lambda s: s.id):
        by_category[spec.category].append(spec)
    return [spec for category in suite.categories for spec in by_category[category][-per_category:]]


def scripted_record(spec: EpisodeSpec, demo: Demo, trace: list[StepRecord], opening: list,
                    failures: Failures, wall_s: float) -> EpisodeRecord:
    """A scripted episode (expert or reference policy) in Stage A's schema, token fields 0."""
    return EpisodeRecord(
        episode_id=spec.id, category=spec.category, task=demo.task, initial_observation=demo.initial_observation,
        success=demo.won, reward=demo.reward, steps=len(trace), end_reason=demo.end_reason,
        nothing_happens=failures.count_nothing(s.observation for s in trace), repetitions=sum(a.action == b.action for a, b in zip(trace, trace[1:])),
        invalid_actions=0, prompt_tokens=0, completion_tokens=0,
        retrieval_tokens=0, total_tokens=0, prompt=opening, trace=trace, wall_s=round(wall_s, 3),
    )


def to_record(spec: EpisodeSpec, demo: Demo, agent: Agent, failures: Failures, wall_s: float) -> EpisodeRecord:
    """The demo as the agent would have played it, opening without hints or example (the
    student's view)."""
    example = ExampleEpisode(spec.category, demo.initial_observation,
                             tuple(ExampleStep(s["action"], s["observation"]) for s in demo.steps))
    trace = []
    for text, observation in agent.example_turns(example):
        parsed = agent.parse(text)
        trace.append(StepRecord(output=text, action=parsed.action, kind=parsed.kind, observation=observation,
                                prompt_tokens=0, completion_tokens=0, finish_reason=EXPERT))
    opening = agent.opening(demo.initial_observation, spec.category, hints=(), fewshot=False)
    return scripted_record(spec, demo, trace, opening, failures, wall_s)


def policy_record(spec: EpisodeSpec, demo: Demo, failures: Failures, wall_s: float) -> EpisodeRecord:
    """An episode of the env's reference policy: its actions as written, no prompt."""
    trace = [StepRecord(output=s["action"], action=s["action"], kind="act", observation=s["observation"],
                        prompt_tokens=0, completion_tokens=0, finish_reason=POLICY) for s in demo.steps]
    return scripted_record(spec, demo, trace, [], failures, wall_s)


def demonstrate(suite: Suite, spec: EpisodeSpec, agent: Agent, max_steps: int) -> EpisodeRecord:
    started = time.perf_counter()
    demo = suite.demonstrate(spec, max_steps)
    return to_record(spec, demo, agent, suite.failures, time.perf_counter() - started)
