"""All agent formats: one example source rendered three ways, parsers that never raise,
hint placement, and the same record fields whatever the agent."""

from __future__ import annotations

from functools import lru_cache

import pytest
from conftest import make_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from hintrag.agents import AGENTS, make_agent
from hintrag.envs.examples import ExampleEpisode, ExampleStep
from hintrag.agents.stateact import read_block
from hintrag.envs.alfworld_state import example_states
from hintrag.errors import ConfigError

EXAMPLE = ExampleEpisode(
    category="pick_and_place_simple",
    initial_observation="You are in the middle of a room. You see a desk 1 and a shelf 1.\n\nYour task is to: put a cd in shelf.",
    steps=(
        ExampleStep("go to desk 1", "You arrive at desk 1. On the desk 1, you see a cd 1.", "The cd may be on the desk."),
        ExampleStep("take cd 1 from desk 1", "You pick up the cd 1 from the desk 1."),
        ExampleStep("go to shelf 1", "You arrive at shelf 1. On the shelf 1, you see nothing.", "Now to the shelf."),
        ExampleStep("move cd 1 to shelf 1", "You move the cd 1 to the shelf 1."),
    ),
)


@lru_cache(maxsize=None)
def agent(name: str, *overrides: str):
    cfg = make_cfg(f"agent={name}", *overrides)
    return make_agent(cfg.agent, cfg.env)


def test_one_example_rendered_three_ways() -> None:
    react = agent("react").example_turns(EXAMPLE)
    act = agent("act").example_turns(EXAMPLE)
    state = agent("stateact").example_turns(EXAMPLE)
    actions = [s.action for s in EXAMPLE.steps]
    assert react == [("think: The cd may be on the desk.", "OK."), (actions[0], EXAMPLE.steps[0].observation),
                     (actions[1], EXAMPLE.steps[1].observation), ("think: Now to the shelf.", "OK."),
                     (actions[2], EXAMPLE.steps[2].observation), (actions[3], EXAMPLE.steps[3].observation)]
    assert act == [(s.action, s.observation) for s in EXAMPLE.steps]
    assert [obs for _, obs in state] == [s.observation for s in EXAMPLE.steps]
    assert [read_block(block)["action"] for block, _ in state] == actions
    assert state[0][0].splitlines() == [
        "goal: put a cd in shelf.", "locations_visited: none yet", "current_location: starting point",
        "current_inventory: nothing", "thought: The cd may be on the desk.", "action: go to desk 1"]


def test_stateact_state_is_read_off_the_trace() -> None:
    states = example_states(EXAMPLE, "put a cd in shelf.")
    assert [s["current_location"] for s in states] == ["starting point", "desk 1", "desk 1", "shelf 1"]
    assert [s["current_inventory"] for s in states] == ["nothing", "nothing", "cd 1", "cd 1"]
    assert states[3]["locations_visited"] == "desk 1, shelf 1"


@pytest.mark.parametrize(
    "output,action",
    [
        ("goal: x\nlocations_visited: none\ncurrent_location: desk 1\naction: go to shelf 1", "go to shelf 1"),
        ("Goal: x\n**Current Location**: desk 1\n- Action: \"Go to shelf 2.\"", "go to shelf 2"),
        ("ACTION = take cd 1 from desk 1\naction: go to desk 2", "take cd 1 from desk 1"),
        ("goal: x\nthought: find it\ngo to desk 1", "go to desk 1"),
        ("goal: x\nthought: find it", ""),
        ("", ""),
    ],
)
def test_stateact_parsing_is_lenient(output: str, action: str) -> None:
    parsed = agent("stateact").parse(output)
    assert parsed.action == action and (parsed.kind == "invalid") == (action == "")


def test_act_treats_think_as_a_command() -> None:
    assert agent("act").parse("think: hmm").kind == "act"
    assert agent("react").parse("think: hmm").kind == "think"


@pytest.mark.parametrize("name", AGENTS)
@settings(max_examples=300, deadline=None)
@given(text=st.text() | st.lists(st.sampled_from(["action: ", "goal:", "think: ", "\n", "> ", "go to desk 1", "**",
                                                   "Action =", ":", "\"", "  ", "é"]), max_size=30).map("".join))
def test_parsers_never_raise(name: str, text: str) -> None:
    parsed = agent(name).parse(text)
    assert parsed.kind in ("act", "think", "invalid")
    assert "\n" not in parsed.action and (parsed.kind == "invalid") == (parsed.action == "")


@pytest.mark.parametrize("name", AGENTS)
@pytest.mark.parametrize("placement", ["system", "task"])
def test_hint_placement_for_every_agent(name: str, placement: str) -> None:
    a = agent(name, f"agent.hint_placement={placement}")
    hints = ["Open {receptacle} before taking from it.", "Check your inventory before moving."]
    chat = a.opening("Your task is to: put a cd in shelf.", "pick_and_place_simple", hints=hints)
    holders = [m for m in chat if "Open {receptacle}" in m["content"]]
    assert holders == [chat[0] if placement == "system" else chat[-1]]
    plain = a.opening("Your task is to: put a cd in shelf.", "pick_and_place_simple")
    if placement == "system":  # the block sits before the example, which starts at message 1
        assert chat[1:] == plain[1:] and chat[0]["content"].startswith(plain[0]["content"])
    else:  # right after the task description
        assert chat[:-1] == plain[:-1] and chat[-1]["content"].startswith(plain[-1]["content"])
    without = a.opening("Your task is to: put a cd in shelf.", "pick_and_place_simple", fewshot=False)
    assert len(without) == 2 and all("Open {receptacle}" not in m["content"] for m in without)


def test_bad_placement_and_keys_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hint_placement"):
        agent("react", "agent.hint_placement=middle")
    with pytest.raises(ConfigError, match="action"):
        agent("stateact", "agent.keys=[goal,thought]")
