"""The WebShop purchase reward against the original's outputs (needs spaCy's en_core_web_sm)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA

from hintrag.envs.webshop.goals import build
from hintrag.envs.webshop.reward import fuzzy_score, get_reward, normalize_color, option_matches, options_json

DATA = WEBSHOP_DATA


@pytest.fixture(scope="module")
def world(webshop_data: Path):
    return build(DATA, seed=42)


def _cases() -> list[dict]:
    path = DATA / "reference" / "ref_rewards.jsonl.gz"
    if not path.is_file():
        return []
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def test_every_reference_reward_case(world) -> None:
    catalog, goals = world
    cases = _cases()
    assert len(cases) == 900, "ref_rewards.jsonl.gz is missing or incomplete"
    wrong, wrong_info = [], []
    for case in cases:
        product, goal = catalog.by_asin[case["asin"]], goals[case["goal_index"]]
        reward, info = get_reward(product, goal, case["price"], case["options"])
        if abs(reward - case["reward"]) > 1e-6:
            wrong.append((case["goal_index"], case["kind"], reward, case["reward"]))
        if info.as_dict() != case["info"]:
            wrong_info.append((case["goal_index"], case["kind"]))
    assert wrong == [] and wrong_info == []


def test_oracle_purchases_of_the_test_goals(world) -> None:
    """The data README's figures for buying each of goals 0-499 with its own options."""
    catalog, goals = world
    rewards = [
        get_reward(catalog.by_asin[g.asin], g, catalog.prices[g.asin], g.goal_options)[0] for g in goals[:500]
    ]
    assert sum(r == 1.0 for r in rewards) == 480
    assert sum(rewards) / 500 == pytest.approx(0.9938, abs=1e-4)


def test_fuzzy_score_follows_thefuzz() -> None:
    assert fuzzy_score("machine washable", "Machine-Washable!") == 100
    assert fuzzy_score("28 x 28", "('size', '28\" x 28\"')") == 100  # subset of tokens
    assert fuzzy_score("café latte", "caf latte") == 100  # chars 128-255 are dropped, not transliterated
    assert fuzzy_score("", "anything") == 0
    assert fuzzy_score("hot pink", "pink") == 100 and fuzzy_score("navy", "gray") < 85


def test_option_matching_uses_name_value_pairs() -> None:
    assert normalize_color("light blue") == "blue"  # the first colour of the list found in the text
    assert normalize_color(("color", "black")) == "black"  # a pair only matches a whole colour name
    assert option_matches(["black"], {"color": "black"}.items()) == 1
    assert option_matches(["large"], {"size": "x-large"}.items()) == 1  # token subset
    assert option_matches([], {"size": "large"}.items()) == 0


def test_done_page_options_json() -> None:
    assert options_json({"size": "m", "color": "<b>&'x"}) == '{"color": "\\u003cb\\u003e\\u0026\\u0027x", "size": "m"}'
