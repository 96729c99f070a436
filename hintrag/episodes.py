"""Batched lockstep rollouts: every running episode advances together, one model call per step.

Finished episodes are appended to `trajectories.jsonl` at once, so a killed run loses at most the
episodes in flight; a rerun skips every id already written. Slots freed by finished episodes
are refilled from the queue, so the batch stays full until the queue runs dry.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from omegaconf import DictConfig
from tqdm.auto import tqdm

from hintrag.agents import Agent
from hintrag.agents.base import THINK_OK, Parsed
from hintrag.envs import Episode, EpisodeSpec, Failures, Suite
from hintrag.hints.retrieval import Retrieved, Retriever, hint_record
from hintrag.llm import Backend, Completion, Message, Request
from hintrag.llm.base import ERROR, RankRequest, Ranking
from hintrag.records import EpisodeRecord, StepRecord

log = logging.getLogger(__name__)

REPEAT_ON = ("action", "output")


@dataclass
class Limits:
    """When an episode is cut: `max_steps` model turns, or `max_repeats` equal turns in a row.

    `repeat_on="action"` counts equal parsed actions and ends the episode after the last one ran;
    `"output"` counts equal whole outputs (a thought or a StateAct block must repeat too) and ends it
    before the last one runs, as the authors' ALFWorld runner did (their 5 is `max_repeats=6` here)."""

    max_steps: int
    max_repeats: int
    repeat_on: str = "action"


@dataclass
class Hinting:
    """How a teacher gets its hints: `k` retrieved at step 0, and optionally one more on a repeat."""

    retriever: Retriever
    k: int
    repeat_hint: bool = False


@dataclass
class _Live:
    """An episode in flight."""

    spec: EpisodeSpec
    episode: Episode
    opening: list[Message]
    started: float
    initial_observation: str = ""
    choices: list[str] = field(default_factory=list)  # whole actions the env offers now (Observation.choices)
    expert: str = ""  # the env's expert's command from here (Observation.expert), with expert labels
    unchanged: list[str] = field(default_factory=list)  # actions taken since the observation last changed
    retrieved: Retrieved | None = None
    spare_hints: list[str] = field(default_factory=list)  # next-ranked hints for a repeat hint
    trace: list[StepRecord] = field(default_factory=list)
    run_length: int = 0  # identical consecutive actions (or whole outputs, env.repeat_on=output) so far
    error: str = ""  # why the model call failed, for an errored episode
    won: bool = False
    reward: float = 0.0
    end_reason: str = ""


def _start(spec: EpisodeSpec, suite: Suite, agent: Agent, hinting: Hinting | None, fewshot: bool,
           expert: bool = False) -> _Live:
    """Reset the env and, for a teacher, retrieve the episode's hints once, before the first turn."""
    started = time.perf_counter()
    episode = suite.make(spec, expert=True) if expert else suite.make(spec)
    first = episode.reset()
    retrieved, spare = None, []
    if hinting is not None:
        want = hinting.k + (1 if hinting.repeat_hint else 0)
        retrieved = hinting.retriever.retrieve(episode.task, spec.category, want)
        spare = [h.text for h in retrieved.hints[hinting.k:]]
        retrieved.hints = retrieved.hints[: hinting.k]
    hints = [h.text for h in retrieved.hints] if retrieved else []
    opening = agent.opening(first.text, spec.category, hints=hints, fewshot=fewshot)
    return _Live(spec, episode, opening, started, initial_observation=first.text, choices=list(first.choices),
                 expert=first.expert, retrieved=retrieved, spare_hints=spare)


def ranked(ranking: Ranking, choices: list[str]) -> Completion:
    """A ranking as the turn it stands for: the best candidate, written as the agent's answer, with
    its answer tokens counted as generated ones (what the model would have had to write)."""
    if ranking.finish_reason != "rank":
        return Completion("", ranking.prompt_tokens, 0, ranking.finish_reason, ranking.prefill_tokens)
    best = ranking.best
    return Completion(choices[best], ranking.prompt_tokens, ranking.tokens[best], "rank", ranking.prefill_tokens,
                      extra={"candidates": len(choices)})


def candidates(live: _Live, skip_unchanged: bool) -> list[str]:
    """The actions a ranking agent chooses among: the env's, less (with agent.skip_unchanged) those
    it took since the observation last changed, unless that leaves none."""
    if not skip_unchanged:
        return live.choices
    return [c for c in live.choices if c not in live.unchanged] or live.choices


def _turns(live: list[_Live], agent: Agent, backend: Backend) -> list[Completion]:
    """One model call for the episodes that write their turn and one for those that choose among
    the env's actions (agent.act=rank, where the page offers any); results in `live`'s order."""
    prompts = [agent.messages(x.opening, x.trace) for x in live]
    choose = [i for i, x in enumerate(live) if agent.act == "rank" and x.choices]
    offered = {i: candidates(live[i], agent.skip_unchanged) for i in choose}
    write = sorted(set(range(len(live))) - set(choose))
    out: list[Completion | None] = [None] * len(live)
    if write:
        requests = [Request(prompts[i], agent.max_new_tokens, agent.stop, session=live[i].spec.id) for i in write]
        for i, completion in zip(write, backend.generate(requests)):
            out[i] = completion
    if choose:
        requests = [RankRequest(prompts[i], offered[i], session=live[i].spec.id) for i in choose]
        for i, ranking in zip(choose, backend.rank(requests)):
            out[i] = ranked(ranking, offered[i])
    return [c for c in out if c is not None]


def _repeats_output(live: _Live, completion: Completion, limits: Limits) -> bool:
    """With repeat_on=output: count this output against the last one; True when it is the
    `max_repeats`-th equal one in a row, which then is not played."""
    if limits.repeat_on != "output":
        return False
    previous = live.trace[-1].output.strip() if live.trace else None
    live.run_length = live.run_length + 1 if completion.text.strip() == previous else 1
    return live.run_length >= limits.max_repeats


def _advance(live: _Live, completion: Completion, agent: Agent, limits: Limits) -> None:
    """Apply one model turn to its episode and decide whether the episode ends."""
    label = live.expert  # what the expert would have sent from the state this turn was taken in
    if completion.finish_reason in ("context", ERROR):
        live.end_reason = "errored" if completion.finish_reason == ERROR else "context"
        live.error = completion.extra.get("error", "")
        return
    if _repeats_output(live, completion, limits):
        live.end_reason = "repeats"
        return
    # a ranked turn is one of the env's own actions, taken as written
    parsed = Parsed(completion.text, "act", completion.text) if completion.finish_reason == "rank" \
        else agent.parse(completion.text)
    if parsed.kind == "think":
        observation = THINK_OK
    elif parsed.kind == "invalid":  # the env answers as it does to an action that changes nothing
        obs = live.episode.no_action()
        observation, live.choices = obs.text, list(obs.choices)
        if obs.done:  # the env's own action cap (ALFWorld's env.max_actions) counts it
            live.end_reason = "done"
    else:
        obs = live.episode.step(parsed.action)
        before = live.trace[-1].observation if live.trace else live.initial_observation
        live.unchanged = live.unchanged + [parsed.action] if obs.text == before else []
        observation, live.won, live.reward, live.choices = obs.text, obs.won, obs.reward, list(obs.choices)
        live.expert = obs.expert
        if obs.done and not live.won:
            live.end_reason = "done"
    if limits.repeat_on == "action":
        previous = live.trace[-1].action if live.trace else None
        live.run_length = live.run_length + 1 if parsed.action == previous else 1
    extra = ""
    if live.run_length == 2 and live.spare_hints:  # spare hints exist only with teacher.repeat_hint
        extra = live.spare_hints.pop(0)  # one more hint, once, when the agent repeats itself
    live.trace.append(
        StepRecord(
            output=completion.text, action=parsed.action, kind=parsed.kind, observation=observation,
            prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason, extra_hint=extra, expert=label,
        )
    )
    if live.won:
        live.end_reason = "won"
    elif limits.repeat_on == "action" and live.run_length >= limits.max_repeats:
        live.end_reason = "repeats"
    elif len(live.trace) >= limits.max_steps and not live.end_reason:
        live.end_reason = "max_steps"


def _record(live: _Live, failures: Failures) -> EpisodeRecord:
    """The finished episode; `failures` says which of the env's answers count as "nothing happens"."""
    trace = live.trace
    prompt_tokens = sum(s.prompt_tokens for s in trace)
    completion_tokens = sum(s.completion_tokens for s in trace)
    retrieval_tokens = live.retrieved.tokens if live.retrieved else 0
    return EpisodeRecord(
        episode_id=live.spec.id, category=live.spec.category, task=live.episode.task,
        initial_observation=live.initial_observation,
        success=live.won, reward=live.reward, steps=len(trace), end_reason=live.end_reason,
        nothing_happens=failures.count_nothing(s.observation for s in trace),
        repetitions=sum(1 for a, b in zip(trace, trace[1:]) if a.action == b.action),
        invalid_actions=sum(s.kind == "invalid" for s in trace),
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, retrieval_tokens=retrieval_tokens,
        total_tokens=prompt_tokens + completion_tokens + retrieval_tokens, prompt=live.opening, trace=trace,
        retrieval=hint_record(live.retrieved) if live.retrieved else None,
        wall_s=round(time.perf_counter() - live.started, 3),
    )


def play(
    specs: Sequence[EpisodeSpec],
    suite: Suite,
    agent: Agent,
    backend: Backend,
    limits: Limits,
    batch_size: int,
    on_finish: Callable[[EpisodeRecord], None],
    on_error: Callable[[dict[str, Any]], None] | None = None,
    hinting: Hinting | None = None,
    fewshot: bool = True,
    expert: bool = False,
) -> dict[str, float]:
    """Run `specs` in lockstep batches; call `on_finish` with each record as soon as it ends. With
    `expert` every turn also records the env's expert's command from its state (Suite.make)."""
    queue, live = deque(specs), []  # type: deque[EpisodeSpec], list[_Live]
    started, steps, calls, errored = time.perf_counter(), 0, 0, 0
    with tqdm(total=len(specs), desc="episodes", unit="ep", dynamic_ncols=True) as bar:
        while queue or live:
            while queue and len(live) < batch_size:
                live.append(_start(queue.popleft(), suite, agent, hinting, fewshot, expert))
            completions = _turns(live, agent, backend)
            calls += 1
            running = []
            for x, completion in zip(live, completions):
                _advance(x, completion, agent, limits)
                steps += completion.finish_reason not in ("context", ERROR)
                if not x.end_reason:
                    running.append(x)
                    continue
                backend.release(x.spec.id)
                x.episode.close()
                if x.end_reason == "errored":  # not a failure of the agent: kept out, retried next run
                    errored += 1
                    if on_error:
                        on_error({"episode_id": x.spec.id, "step": len(x.trace), "error": x.error})
                else:
                    on_finish(_record(x, suite.failures))
                bar.update(1)
            live = running
            bar.set_postfix(steps=steps, running=len(live))
    wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 2), "episodes": len(specs), "errored": errored, "steps": steps, "model_calls": calls,
        "s_per_episode": round(wall / max(1, len(specs)), 3), "s_per_step": round(wall / max(1, steps), 4),
    }


def limits_from(cfg: DictConfig) -> Limits:
    return Limits(max_steps=int(cfg.max_steps), max_repeats=int(cfg.env.max_repeats),
                  repeat_on=str(cfg.env.get("repeat_on", "action")))
