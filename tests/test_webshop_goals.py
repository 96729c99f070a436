"""WebShop products and synthetic goals: the original's seed-42 goals, prices, splits, categories."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA
from omegaconf import OmegaConf

from hintrag.envs.webshop.data import CATEGORIES, load_products, parse_options, parse_pricing, resolve_data_dir
from hintrag.envs.webshop.env import WebShopSuite
from hintrag.envs.webshop.goals import build, price_limit
from hintrag.errors import ConfigError

DATA = WEBSHOP_DATA


@pytest.fixture(scope="module")
def data(webshop_data: Path) -> Path:
    return webshop_data


@pytest.fixture(scope="module")
def reference(data: Path) -> dict:
    with gzip.open(data / "reference" / "ref_goals_synthetic_seed42.json.gz", "rt") as handle:
        return json.load(handle)


def test_seed_42_goals_match_the_original_exactly(data: Path, reference: dict) -> None:
    catalog, goals = build(data, seed=42)
    assert len(goals) == len(reference["goals"]) == 6910
    mismatched = [i for i, (g, r) in enumerate(zip(goals, reference["goals"])) if asdict(g) != r]
    assert mismatched == []
    assert catalog.prices == reference["product_prices"]


def test_building_leaves_the_global_random_state_alone(data: Path) -> None:
    random.seed(7)
    before = random.getstate()
    build(data, seed=42)
    assert random.getstate() == before


def test_another_seed_keeps_goal_order_but_redraws_prices_and_limits(data: Path, reference: dict) -> None:
    catalog, goals = build(data, seed=1)
    assert [g.asin for g in goals] == [r["asin"] for r in reference["goals"]]
    assert catalog.prices != reference["product_prices"]
    assert [g.price_upper for g in goals] != [r["price_upper"] for r in reference["goals"]]


def test_product_processing(data: Path) -> None:
    products = load_products(data)
    assert len(products) == 1000
    assert parse_pricing("$12.99 to $15.0") == ((12.99, 15.0), "$12.99 to $15.0")
    assert parse_pricing("$1,299.00") == ((1299.0,), "$1299.0")
    assert parse_pricing("") == ((100.0,), "$100.0")
    raw = {"Color": [{"value": " Black/White "}, {"value": "Red"}], "Size": None}
    assert parse_options(raw) == {"color": ["black | white", "red"]}
    assert sum(p.instruction is not None for p in products) == 415
    assert all(p.query == p.query.lower().strip() for p in products)


def test_price_limit_rules() -> None:
    upper, text = price_limit(14.95, random.Random(0))
    assert upper in (30.0, 40.0, 50.0) and text == f", and price lower than {upper:.2f} dollars"
    assert price_limit(985.0, random.Random(0)) == (1000000, "")  # fewer than two $10 steps above


def test_splits_ids_and_categories(data: Path) -> None:
    suite = WebShopSuite(OmegaConf.create({"data_dir": str(data)}))
    test = suite.episodes("test")
    assert [s.id for s in test[:3]] == ["fixed_0", "fixed_1", "fixed_2"] and len(test) == 500
    assert len(suite.episodes("valid")) == 1000 and len(suite.episodes("train")) == 5410
    assert len(suite.episodes("all")) == 6910
    assert {s.category for s in suite.episodes("all")} == set(CATEGORIES) == set(suite.categories)
    assert test[0].category == "furniture"  # goal 0 is a throw pillow cover from the 'garden' group
    assert suite.make(test[1]).task == suite.goals[1].instruction_text
    with pytest.raises(ConfigError, match="split"):
        suite.episodes("valid_unseen")


def test_missing_data_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    with pytest.raises(ConfigError, match="WEBSHOP_DATA"):
        resolve_data_dir(None)
    with pytest.raises(ConfigError, match="items_shuffle_1000.json"):
        resolve_data_dir(tmp_path)
