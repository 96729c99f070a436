"""ALFWorld's compact decision state (agent.prompt=decision, agent.memory, agent.recent_turns,
agent.task_last): what it remembers is read off the agent's own turns; it shows no text the agent
was not shown; the prompt a turn is played from is the prompt it is trained on, byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import make_cfg
from test_decision import Recorder

from hintrag.agents import make_agent
from hintrag.envs import decision_view, make_suite
from hintrag.envs.alfworld_state import Memory, things
from hintrag.episodes import Limits, play
from hintrag.errors import ConfigError
from hintrag.training import data

ROOM = ("You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, "
        "a countertop 1, a fridge 1, a microwave 1, and a sinkbasin 1.\n\nYour task is to: put a hot apple in cabinet.")
TURNS = [
    ("go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed."),
    ("go to countertop 1", "You arrive at countertop 1. On the countertop 1, you see a apple 1, and a knife 2."),
    ("take apple 1 from countertop 1", "You pick up the apple 1 from the countertop 1."),
    ("go to microwave 1", "You arrive at microwave 1. The microwave 1 is closed."),
    ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."),
    ("go to cabinet 1", "You arrive at cabinet 1. The cabinet 1 is closed."),
    ("open cabinet 1", "You open the cabinet 1. The cabinet 1 is open. In it, you see nothing."),
    ("look", "Nothing happens."),
]
VIEW = decision_view("alfworld", recent_turns=2, memory=True)


def test_the_memory_follows_the_agents_own_turns() -> None:
    memory = Memory.after(ROOM, TURNS[:5])
    assert memory.lines() == [
        "Seen: fridge 1: closed, not looked inside; countertop 1: knife 2; microwave 1: closed, not looked inside",
        "Not visited: cabinet 2, cabinet 1, sinkbasin 1", "You are at: microwave 1. You hold: apple 1 (heated)."]
    memory = Memory.after(ROOM, TURNS + [("move apple 1 to cabinet 1", "You move the apple 1 to the cabinet 1.")])
    assert memory.held == "nothing" and memory.treated == [] and memory.seen["cabinet 1"] == ["apple 1"]
    assert things("a apple 1, a knife 2, and a cup 1") == ["apple 1", "knife 2", "cup 1"] and things("nothing") == []


def test_the_view_shows_the_task_the_memory_and_the_last_turns_in_full() -> None:
    lines = VIEW(ROOM, TURNS, 200).splitlines()
    assert lines[0] == "Your task is to: put a hot apple in cabinet."
    assert lines[3] == "You are at: cabinet 1. You hold: apple 1 (heated)."
    assert "cabinet 1: nothing" in lines[1] and lines[2] == "Not visited: cabinet 2, sinkbasin 1"
    assert lines[4:] == ["Last turns:", "> open cabinet 1", TURNS[-2][1], "> look", "Nothing happens."]
    assert VIEW(ROOM, [], 200).splitlines()[-1] == "Last turns: none"


def test_task_last_moves_the_task_line_to_the_end_and_changes_nothing_else() -> None:
    last = decision_view("alfworld", recent_turns=2, memory=True, task_last=True)
    for turns in (TURNS, TURNS[:3], []):
        first = VIEW(ROOM, turns, 200).splitlines()
        assert last(ROOM, turns, 200).splitlines() == first[1:] + first[:1]
    assert last(ROOM, [], 200).splitlines()[-1] == "Your task is to: put a hot apple in cabinet."


def test_without_its_options_the_view_is_the_one_runs_were_stored_with() -> None:
    plain = decision_view("alfworld")
    assert plain(ROOM, TURNS[:2], 5) == (f"{ROOM}\nActions so far: go to fridge 1 | go to countertop 1\n"
                                         "Last observation: You arrive at countertop 1. ...")
    no_memory = decision_view("alfworld", recent_turns=1)(ROOM, TURNS[:2], 200)
    assert no_memory == f"{ROOM}\nLast turns:\n> go to countertop 1\n{TURNS[1][1]}"


def test_options_an_env_does_not_have_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="agent.memory"):
        decision_view("webshop", memory=True)
    with pytest.raises(ConfigError, match="recent_turns"):
        decision_view("alfworld", recent_turns=-1)
    with pytest.raises(ConfigError, match="agent.memory=true"):
        decision_view("alfworld", recent_turns=2, task_last=True)
    with pytest.raises(ConfigError, match="agent.task_last"):
        decision_view("webshop", task_last=True)


LABELS = set("Your task is to: You are at: You hold: Seen: Not visited: Last turns: closed, not looked inside "
             "nothing yet none starting point > ( ) ; , . heated cooled cleaned".replace(",", " ").split())


def words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+|\d+", text))


@pytest.mark.parametrize("task_last", [False, True])
def test_played_and_trained_prompts_agree_and_show_only_what_was_seen(alfworld_data: Path, task_last: bool) -> None:
    cfg = make_cfg("env=alfworld", f"env.data_dir={alfworld_data}", "agent=act", "agent.prompt=decision",
                   "agent.fewshot=0", "agent.act=rank", "agent.memory=true", "agent.recent_turns=2",
                   f"agent.task_last={str(task_last).lower()}")
    suite, agent, engine, records = make_suite(cfg.env), make_agent(cfg.agent, cfg.env), Recorder(), []
    play(suite.episodes("valid_seen")[:2], suite, agent, engine, Limits(6, 9), 2, on_finish=records.append,
         fewshot=False)
    assert len(records) == 2
    for rec in records:
        examples = data.to_examples(rec.to_dict(), agent)
        sent = engine.prompts[rec.episode_id]
        assert len(examples) == len(sent) == rec.steps
        for t, (example, prompt) in enumerate(zip(examples, sent)):
            assert json.dumps(example.messages[:-1]) == json.dumps(prompt)
            shown = rec.initial_observation + " ".join(f"{s.action} {s.observation}" for s in rec.trace[:t])
            assert words(prompt[-1]["content"]) <= words(shown) | words(" ".join(LABELS))
