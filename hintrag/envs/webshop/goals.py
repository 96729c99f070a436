"""WebShop's synthetic goals: one per option combination of each instructed product.

The original draws every random number from Python's global `random` right after the caller's
`random.seed(S)`: first one uniform price per ranged product (catalog order), then one
two-element `sample` per goal product for the "price lower than" limit, and finally it reseeds
with 233 and shuffles the goal list. Here the same draws come from private `random.Random`
instances (`Random(S)` for prices and limits, `Random(233)` for the shuffle), which yield the
same numbers as the global functions, so the global random state is never touched.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from hintrag.envs.webshop.data import Catalog, Product, draw_prices, load_products

PRICE_STEPS = [10.0 * i for i in range(1, 100)]
NO_LIMIT = 1000000
SHUFFLE_SEED = 233


@dataclass
class Goal:
    """One shopping task: the instruction shown to the agent and what the reward checks."""

    asin: str
    category: str
    query: str
    name: str
    product_category: str
    instruction_text: str
    attributes: list[str]
    price_upper: float
    goal_options: dict[str, str] = field(default_factory=dict)
    weight: float = 1.0


def price_limit(price: float, rng: random.Random) -> tuple[float, str]:
    """The larger of two draws among the next four $10 steps above the price, and its wording."""
    steps = [p for p in PRICE_STEPS if p > price][:4]
    if len(steps) < 2:
        return NO_LIMIT, ""
    _, upper = sorted(rng.sample(steps, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def synthetic_goals(products: list[Product], prices: dict[str, float], rng: random.Random) -> list[Goal]:
    """Goals in catalog order, before the shuffle; weights favour goals with rare attributes."""
    goals: list[Goal] = []
    counts: dict[str, int] = defaultdict(int)
    for product in products:
        if product.instruction is None:
            continue
        attributes = list(product.instruction_attributes)
        if not attributes:
            raise ValueError(f"instructed product {product.asin} has no instruction attributes")
        upper, price_text = price_limit(prices[product.asin], rng)
        names = sorted(product.options)
        for combination in itertools.product(*(product.options[n] for n in names)):
            chosen = dict(zip(names, combination))
            option_text = ", and ".join(f"{k}: {v}" for k, v in chosen.items())
            option_text = f" with {option_text}" if option_text else ""
            goals.append(Goal(
                asin=product.asin,
                category=product.category,
                query=product.query,
                name=product.name,
                product_category=product.product_category,
                instruction_text=f"{product.instruction}{option_text}{price_text}",
                attributes=attributes,
                price_upper=upper,
                goal_options=chosen,
            ))
            for attribute in attributes:
                counts[attribute] += 1
    for goal in goals:
        goal.weight = sum(1.0 / counts[a] for a in goal.attributes) / len(goal.attributes)
    return goals


def build(data_dir: Path, seed: int = 42, num_products: int | None = 1000) -> tuple[Catalog, list[Goal]]:
    """The catalog with this seed's prices and its goals in session order (after the 233 shuffle)."""
    products = load_products(data_dir, num_products)
    rng = random.Random(seed)
    prices = draw_prices(products, rng)
    goals = synthetic_goals(products, prices, rng)
    random.Random(SHUFFLE_SEED).shuffle(goals)
    return Catalog(products, prices), goals
