"""The WebShop category classifier: accuracy on the test goals, obvious cases, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA

from hintrag.envs.webshop import category
from hintrag.envs.webshop.data import CATEGORIES, CATEGORY_OF
from hintrag.envs.webshop.env import SPLITS
from hintrag.envs.webshop.goals import build

DATA = WEBSHOP_DATA
# Measured 1.000 on the 500 test goals (0.9997 on all 6910); the margin allows a library update.
MIN_TEST_ACCURACY = 0.98


@pytest.fixture(scope="module")
def classifier(webshop_data: Path) -> category.CategoryClassifier:
    category.configure(DATA)
    return category.classifier()


def test_accuracy_on_the_test_goals(classifier: category.CategoryClassifier) -> None:
    _, goals = build(DATA)
    start, stop = SPLITS["test"]
    test = goals[start:stop]
    predicted = classifier.predict([g.instruction_text for g in test])
    correct = sum(p == CATEGORY_OF[g.category] for p, g in zip(predicted, test))
    assert correct / len(test) >= MIN_TEST_ACCURACY


@pytest.mark.parametrize("text,expected", [
    ("organic dark chocolate snack bars, gluten free", "food"),
    ("wireless bluetooth headphones with noise cancelling", "electronics"),
    ("men's running shoes in size 10", "fashion"),
    ("moisturizing face cream for dry skin", "beauty"),
    ("wooden coffee table for the living room", "furniture"),
    ("i am looking for a usb c charging cable, and price lower than 20.00 dollars", "electronics"),
])
def test_obvious_cases(classifier: category.CategoryClassifier, text: str, expected: str) -> None:
    assert category.classify(text) == expected == classifier(text)


def test_any_text_gets_a_category_and_the_model_is_cached(classifier: category.CategoryClassifier) -> None:
    for text in ("", "zzzz qqqq", "!!!"):
        assert category.classify(text) in CATEGORIES
    assert category.classifier() is classifier


def test_training_is_deterministic(classifier: category.CategoryClassifier) -> None:
    texts = ["a red dress for women", "queen size bed frame", "hdmi cable 6 ft", "gluten free pasta", "shampoo"]
    assert category.build_classifier(DATA).predict(texts) == classifier.predict(texts)
