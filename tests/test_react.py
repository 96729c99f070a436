"""ReAct parsing is tolerant of model noise; the example of each task type renders as chat turns."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from hintrag.agents import make_agent
from hintrag.envs.examples import load_example_sets, load_examples
from hintrag.envs.alfworld import TASK_TYPES

AGENT = make_agent(make_cfg().agent, make_cfg().env)


@pytest.mark.parametrize(
    "output,action,kind",
    [
        ("go to desk 1", "go to desk 1", "act"),
        ("> go to desk 1.", "go to desk 1", "act"),
        ("Action: \"Take Mug 1 from Desk 2\"", "take mug 1 from desk 2", "act"),
        ("  `open drawer 3`!  ", "open drawer 3", "act"),
        ("Act 4: go to  shelf   2", "go to shelf 2", "act"),
        ("go to sinkbasin 1\nYou arrive at sinkbasin 1.", "go to sinkbasin 1", "act"),
        ("\n\nuse desklamp 1", "use desklamp 1", "act"),
        ("think: the mug is probably on the desk", "think: the mug is probably on the desk", "think"),
        ("> Thought: check   the shelf", "think: check the shelf", "think"),
        ("", "", "invalid"),
        ("  \n ..!  ", "", "invalid"),
    ],
)
def test_parse_examples(output: str, action: str, kind: str) -> None:
    parsed = AGENT.parse(output)
    assert (parsed.action, parsed.kind) == (action, kind)


def test_turn_text_cuts_at_stop() -> None:
    assert AGENT.turn_text("go to desk 1\nYou arrive") == "go to desk 1"


def test_every_example_of_every_task_type_has_valid_thoughts() -> None:
    examples = load_example_sets("alfworld")
    assert sorted(examples) == sorted(TASK_TYPES)
    for ex in (ex for pair in examples.values() for ex in pair):
        assert ex.steps and any(s.thought for s in ex.steps)
        turns = AGENT.example_turns(ex)
        assert turns[0][0].startswith("think: ")
        assert [t for t, _ in turns if not t.startswith("think:")] == [s.action for s in ex.steps]


def test_opening_uses_example_of_same_category_as_chat_turns() -> None:
    chat = AGENT.opening("You are in a room.\n\nYour task is to: put a cd in shelf.", "pick_and_place_simple")
    assert chat[0]["role"] == "system" and chat[-1]["role"] == "user"
    assert [m["role"] for m in chat[1:-1]] == ["user", "assistant"] * ((len(chat) - 2) // 2)
    ex = load_examples("alfworld")["pick_and_place_simple"]
    assert ex.initial_observation in chat[1]["content"]
    assert chat[-1]["content"].endswith("Your task is to: put a cd in shelf.")
