"""Few-shot examples: `agent.fewshot` solved examples of the episode's category, 0, 1 or 2. One example
renders byte for byte as before two existed (stored runs keep their prompts); two render the
category's two examples in file order; asking for more than the env has is a config error; the
example files load in either form (one object or a list per category)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import make_cfg

from hintrag.agents import AGENTS, make_agent
from hintrag.envs import examples as example_files
from hintrag.envs.alfworld import TASK_TYPES
from hintrag.envs.examples import examples_per_category, load_example_sets, load_examples
from hintrag.envs.webshop.data import CATEGORIES
from hintrag.errors import ConfigError
from hintrag.files import json_digest

CATEGORIES_OF = {"alfworld": sorted(TASK_TYPES), "webshop": sorted(CATEGORIES)}
# json_digest of every agent.fewshot=1 opening (each category, without and with a hint), rendered by
# the code at 71510b2, before a second example existed. A change here changes every stored prompt.
BEFORE = {"alfworld/act": "4d86bfb0", "alfworld/react": "44cb0f45", "alfworld/stateact": "afe0148c",
          "webshop/act": "5f1e4c84", "webshop/react": "17a946dc", "webshop/stateact": "edde95bc"}


@lru_cache(maxsize=None)
def agent(env: str, name: str, fewshot: int = 1):
    cfg = make_cfg(f"env={env}", f"agent={name}", f"agent.fewshot={fewshot}")
    return make_agent(cfg.agent, cfg.env)


def task(category: str) -> str:
    return f"Your task is to: do {category}."


@pytest.mark.parametrize("env", sorted(CATEGORIES_OF))
@pytest.mark.parametrize("name", AGENTS)
def test_one_example_renders_exactly_as_before(env: str, name: str) -> None:
    a = agent(env, name)
    chats = {f"{c}|{len(hints)}": a.opening(task(c), c, hints=hints)
             for c in CATEGORIES_OF[env] for hints in ((), ("Do X.",))}
    assert json_digest(chats) == BEFORE[f"{env}/{name}"]


@pytest.mark.parametrize("name", AGENTS)
def test_two_examples_render_the_categorys_two_in_file_order(name: str) -> None:
    one, two = agent("alfworld", name), agent("alfworld", name, 2)
    for category in CATEGORIES_OF["alfworld"]:
        first, second = load_example_sets("alfworld")[category]
        assert two.examples(category) == (first, second) and first != second
        assert first.category == second.category == category
        assert first.initial_observation != second.initial_observation
        single, double = one.opening(task(category), category), two.opening(task(category), category)
        n = len(one.example_turns(first))
        assert double[: 2 * n] == single[: 2 * n]  # the first example's turns, as one example shows them
        joint = double[2 * n + 1]["content"]  # ends the first example, opens the second
        assert joint == "\n\n".join([first.steps[-1].observation, str(two.cfg.next_example_header),
                                     second.initial_observation])
        turns = n + len(two.example_turns(second))
        assert [m["role"] for m in double[1:]] == ["user", "assistant"] * turns + ["user"]
        assert double[-1]["content"] == f"{second.steps[-1].observation}\n\n{two.cfg.task_header}\n\n{task(category)}"
        assert double[0] == single[0]


def test_the_shipped_alfworld_examples_are_two_distinct_games_per_type() -> None:
    traces = example_files.example_traces("alfworld")
    assert examples_per_category("alfworld") == 2 and examples_per_category("webshop") == 1
    for category, (first, second) in traces.items():
        assert first["won"] and second["won"] and first["task"] != "" and second["task"] != ""
        assert first["game"].split("/")[2] != second["game"].split("/")[2], category  # other task folders
        assert load_examples("alfworld")[category] == load_example_sets("alfworld")[category][0]


@pytest.mark.parametrize("env,fewshot,have", [("webshop", 2, 1), ("alfworld", 3, 2)])
def test_more_examples_than_the_env_has_is_a_config_error_naming_the_fix(env: str, fewshot: int, have: int) -> None:
    with pytest.raises(ConfigError, match=rf"agent.fewshot={fewshot}, but {env} has {have} .*set agent.fewshot={have}"):
        agent(env, "react", fewshot)
    with pytest.raises(ConfigError, match=">= 0"):
        agent(env, "act", -1)


def test_fewshot_zero_shows_no_example() -> None:
    chat = agent("alfworld", "react", 0).opening(task("pick_and_place_simple"), "pick_and_place_simple")
    assert [m["role"] for m in chat] == ["system", "user"]


def write(folder: Path, name: str, value: object) -> None:
    (folder / name).write_text(json.dumps(value))


def test_an_example_file_loads_in_either_form_and_stale_thoughts_are_refused(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """One object per category (files from before) or a list; thoughts matched by game, in either form."""
    trace = {"game": "g1", "task": "t", "initial_observation": "start", "steps": [{"action": "a", "observation": "o"}]}
    other = {**trace, "game": "g2", "initial_observation": "start 2"}
    monkeypatch.setattr(example_files, "EXAMPLES_DIR", tmp_path)
    load_example_sets.cache_clear()
    try:
        write(tmp_path, "toy.json", {"examples": {"c": trace}})
        write(tmp_path, "toy_thoughts.json", {"c": {"game": "g1", "thoughts": {"0": "why"}}})
        (single,) = load_example_sets("toy")["c"]
        write(tmp_path, "toy.json", {"examples": {"c": [trace, other]}})
        write(tmp_path, "toy_thoughts.json", {"c": [{"game": "g2", "thoughts": {"0": "why 2"}},
                                                    {"game": "g1", "thoughts": {"0": "why"}}]})
        load_example_sets.cache_clear()
        first, second = load_example_sets("toy")["c"]
        assert first == single and single.steps[0].thought == "why" and second.steps[0].thought == "why 2"
        write(tmp_path, "toy_thoughts.json", {"c": {"game": "g3", "thoughts": {}}})
        load_example_sets.cache_clear()
        with pytest.raises(ValueError, match="written for g3"):
            load_example_sets("toy")
    finally:
        load_example_sets.cache_clear()
