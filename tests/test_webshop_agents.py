"""Agent formats on WebShop: one example rendered three ways, StateAct's page and option state
read off a trace, the shipped examples (loaded, annotated, replayable in the env), openings."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA, make_cfg

from hintrag.agents import AGENTS, make_agent
from hintrag.envs.examples import EXAMPLES_DIR, ExampleEpisode, ExampleStep, load_examples
from hintrag.agents.stateact import read_block
from hintrag.envs.webshop.state import example_states as webshop_states
from hintrag.envs.webshop.state import goal as webshop_goal
from hintrag.envs import make_suite
from hintrag.envs.webshop.data import CATEGORIES

DATA = WEBSHOP_DATA
TASK = "Find me a blue ceramic mug with size: 12 oz, and price lower than 20.00 dollars"
HEAD = f"Instruction: [SEP] {TASK} [SEP] Back to Search"
RESULTS_1 = f"{HEAD} [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] B0000000A1 [SEP] Glass Jar [SEP] $4.0"
RESULTS_2 = f"{HEAD} [SEP] Page 2 (Total results: 50) [SEP] < Prev [SEP] Next > [SEP] B0000000M2 [SEP] Blue Mug [SEP] $9.5"
ITEM = f"{HEAD} [SEP] < Prev [SEP] size [SEP] 8 oz [SEP] 12 oz [SEP] Blue Mug [SEP] Price: $9.5 [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now"
DESCRIPTION = f"{HEAD} [SEP] < Prev [SEP] A sturdy blue ceramic mug."
DONE = "Thank you for shopping with us! [SEP] Your code: [SEP] None [SEP] Reward [SEP] 1.0"
EXAMPLE = ExampleEpisode(
    category="furniture",
    initial_observation=f"WebShop [SEP] Instruction: [SEP] {TASK} [SEP] Search",
    steps=(
        ExampleStep("search[blue ceramic mug]", RESULTS_1, "Search for the product words."),
        ExampleStep("click[Next >]", RESULTS_2),
        ExampleStep("click[B0000000M2]", ITEM, "B0000000M2 is a blue mug at $9.5."),
        ExampleStep("click[12 oz]", ITEM),
        ExampleStep("click[Description]", DESCRIPTION),
        ExampleStep("click[Reviews now]", "Invalid action!"),
        ExampleStep("click[< Prev]", ITEM),
        ExampleStep("click[Buy Now]", DONE, "12 oz is picked and $9.5 < $20."),
    ),
)


@lru_cache(maxsize=None)
def agent(name: str, *overrides: str):
    cfg = make_cfg("env=webshop", f"agent={name}", *overrides)
    return make_agent(cfg.agent, cfg.env)


def test_one_webshop_example_rendered_three_ways() -> None:
    react = agent("react").example_turns(EXAMPLE)
    act = agent("act").example_turns(EXAMPLE)
    state = agent("stateact").example_turns(EXAMPLE)
    steps = EXAMPLE.steps
    assert act == [(s.action, s.observation) for s in steps]
    assert [t for t, _ in react if t.startswith("think: ")] == [f"think: {s.thought}" for s in steps if s.thought]
    assert [(t, o) for t, o in react if not t.startswith("think: ")] == act
    assert react[0] == ("think: Search for the product words.", "OK.") and len(react) == len(steps) + 3
    assert [obs for _, obs in state] == [s.observation for s in steps]
    assert [read_block(block)["action"] for block, _ in state] == [s.action for s in steps]
    assert state[0][0].splitlines() == [  # WebShop's keys: no thought line even where the step has one
        f"goal: {TASK}", "current_page: search", "selected_options: none", "action: search[blue ceramic mug]"]


def test_webshop_state_is_read_off_the_trace() -> None:
    assert webshop_goal(EXAMPLE.initial_observation) == TASK
    states = webshop_states(EXAMPLE, TASK)
    assert [s["current_page"] for s in states] == [
        "search", "results page 1", "results page 2", "item B0000000M2", "item B0000000M2",
        "item B0000000M2 description", "item B0000000M2 description", "item B0000000M2"]
    assert [s["selected_options"] for s in states] == ["none"] * 4 + ["12 oz"] * 4
    assert states[2]["thought"] == "B0000000M2 is a blue mug at $9.5."


def test_stateact_keys_follow_the_env() -> None:
    assert agent("stateact").keys == ["goal", "current_page", "selected_options", "action"]
    block = agent("stateact", "agent.keys=[goal,current_page,thought,action]").example_turns(EXAMPLE)[0][0]
    assert [line.split(":")[0] for line in block.splitlines()] == ["goal", "current_page", "thought", "action"]


def test_shipped_examples_cover_every_category() -> None:
    examples = load_examples("webshop")
    assert sorted(examples) == sorted(CATEGORIES)
    for category, example in examples.items():
        assert example.steps[0].action.startswith("search[") and example.steps[-1].action == "click[Buy Now]"
        assert "[SEP] 1.0 [SEP]" in example.steps[-1].observation  # the oracle's purchase scored 1.0
        thoughts = [s.thought for s in example.steps if s.thought]
        assert 2 <= len(thoughts) <= 4, category
        pages = [s["current_page"] for s in webshop_states(example, webshop_goal(example.initial_observation))]
        assert pages[0] == "search" and pages[-1].startswith("item "), category


@pytest.mark.parametrize("name", AGENTS)
def test_webshop_opening_builds(name: str) -> None:
    a = agent(name)
    observation = f"WebShop [SEP] Instruction: [SEP] {TASK} [SEP] Search"
    for category in CATEGORIES:
        chat = a.opening(observation, category, hints=["Pick every option the instruction names."])
        example = load_examples("webshop")[category]
        assert chat[0]["role"] == "system" and chat[0]["content"].startswith(a.env.instruction)
        assert "Pick every option" in chat[0]["content"]
        assert example.initial_observation in chat[1]["content"]
        assert chat[-1]["role"] == "user" and chat[-1]["content"].endswith(observation)
        assert chat[-1]["content"].startswith(example.steps[-1].observation)
        roles = [m["role"] for m in chat[1:]]
        assert roles == ["user", "assistant"] * ((len(chat) - 2) // 2) + ["user"]
    plain = a.opening(observation, "food", fewshot=False)
    assert [m["role"] for m in plain] == ["system", "user"] and plain[-1]["content"] == observation


def test_shipped_examples_replay_in_the_env(webshop_data: Path) -> None:
    """Each example, played again in the env, gives the same pages and a 1.0 purchase."""
    suite = make_suite(make_cfg("env=webshop", f"env.data_dir={DATA}").env)
    specs = {s.id: s for s in suite.episodes("train")}
    for category, trace in json.loads((EXAMPLES_DIR / "webshop.json").read_text())["examples"].items():
        spec = specs[trace["game"]]
        assert spec.category == category
        episode = suite.make(spec)
        assert episode.reset().text == trace["initial_observation"] and episode.task == trace["task"]
        for step in trace["steps"]:
            obs = episode.step(step["action"])
            assert obs.text == step["observation"], (category, step["action"])
        assert obs.done and obs.reward == 1.0
