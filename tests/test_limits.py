"""When the episode loop cuts an episode: the repeat stop on equal actions (after the last one ran)
or on equal whole outputs (before it runs, the authors' ALFWorld rule), and the env's own action cap."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from hintrag.agents import make_agent
from hintrag.envs import EpisodeSpec, Failures, Observation
from hintrag.episodes import Limits, limits_from, play
from hintrag.errors import ConfigError
from hintrag.llm import Completion
from hintrag.validate import validate_common

SPEC = EpisodeSpec("game-0", "pick_and_place_simple", "game-0")


class Room:
    """A game that never ends by itself, unless `cap` commands (unparsed outputs included) were sent."""

    task = "put a mug in desk."

    def __init__(self, cap: int | None = None) -> None:
        self.spec, self.cap, self.sent = SPEC, cap, []

    def _spent(self) -> bool:
        return self.cap is not None and len(self.sent) >= self.cap

    def reset(self) -> Observation:
        return Observation("You are in a room.\n\nYour task is to: put a mug in desk.")

    def step(self, action: str) -> Observation:
        self.sent.append(action)
        return Observation(f"You did {len(self.sent)}.", done=self._spent())

    def no_action(self) -> Observation:
        self.sent.append("")
        return Observation("Nothing happens.", done=self._spent())

    def close(self) -> None:
        pass


class House:
    name, categories, failures, scored = "fake", (SPEC.category,), Failures(nothing="Nothing happens."), False

    def __init__(self, cap: int | None = None) -> None:
        self.room = Room(cap)

    def make(self, spec: EpisodeSpec) -> Room:
        return self.room


class Script:
    """A backend that answers each turn with the next output of a fixed list."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = iter(outputs)

    def generate(self, requests: list) -> list[Completion]:
        return [Completion(next(self.outputs), 10, 3, "eos") for _ in requests]

    def release(self, session: str) -> None:
        pass


def _play(outputs: list[str], limits: Limits, cap: int | None = None):
    records = []
    suite = House(cap)
    play([SPEC], suite, make_agent(make_cfg().agent, make_cfg().env), Script(outputs), limits, 1,
         on_finish=records.append, fewshot=False)
    (record,) = records
    return record, suite.room.sent


def test_equal_actions_end_the_episode_after_the_last_one_ran() -> None:
    record, sent = _play(["go to desk 1", "> go to desk 1.", "go to desk 1"] + ["look"] * 9, Limits(20, 3))
    assert (record.end_reason, record.steps, len(sent)) == ("repeats", 3, 3)


def test_equal_outputs_end_the_episode_before_the_last_one_runs() -> None:
    """repeat_on=output counts whole outputs: two spellings of one command are not a repeat, and the
    max_repeats-th equal output is not sent (the authors' 5 repeats are max_repeats=6)."""
    outputs = ["go to desk 1", "> go to desk 1.", "go to desk 1"] + ["look"] * 9
    record, sent = _play(outputs, Limits(20, 3, "output"))
    assert (record.end_reason, record.steps, sent) == ("repeats", 5, ["go to desk 1"] * 3 + ["look"] * 2)
    record, sent = _play(["think: where is it?"] * 6, Limits(20, 6, "output"))  # thoughts repeat too
    assert (record.end_reason, record.steps, sent) == ("repeats", 5, [])


def test_the_envs_action_cap_counts_unparsed_outputs_and_not_thoughts() -> None:
    record, sent = _play(["think: plan", "look", "", "think: again", "go to desk 1", "look"], Limits(20, 9), cap=3)
    assert (record.end_reason, record.steps, sent) == ("done", 5, ["look", "", "go to desk 1"])


def test_repeat_on_is_read_from_the_env_and_checked() -> None:
    assert limits_from(make_cfg("max_steps=99", "env.max_repeats=6", "env.repeat_on=output")) == Limits(99, 6, "output")
    assert limits_from(make_cfg()).repeat_on == "action"
    with pytest.raises(ConfigError, match="env.repeat_on"):
        validate_common(make_cfg("env.repeat_on=thought"), ("pipeline",))
