"""WebShop's product catalog, processed the way the original's product loader does.

The environment, the goals and the reward all read these processed fields, so every rule here
(price parsing, option names and values, the DUMMY_ATTR fallback, duplicate and bad ASINs) is
kept exactly, even where it looks odd: a different rule would give different goals and rewards.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hintrag.errors import ConfigError

PRODUCTS_FILE = "items_shuffle_1000.json"
ATTRIBUTES_FILE = "items_ins_v2_1000.json"
HUMAN_FILE = "items_human_ins_1k.json"
DATA_HINT = (
    "set env.data_dir=/path/to/webshop_data (or export WEBSHOP_DATA) to a folder holding "
    f"{PRODUCTS_FILE}, {ATTRIBUTES_FILE} and {HUMAN_FILE} (see shared/data/webshop/README.md)"
)
# The loader's 'category' field holds the scrape's query group; the paper names the five
# groups by what they sell. garden products are home and furniture items, grocery is food.
CATEGORY_OF = {
    "beauty": "beauty",
    "grocery": "food",
    "fashion": "fashion",
    "garden": "furniture",
    "electronics": "electronics",
}
CATEGORIES = ("beauty", "food", "fashion", "furniture", "electronics")


@dataclass(frozen=True)
class Product:
    """One catalog item with the processed fields that pages, goals and rewards read."""

    asin: str
    name: str  # the title; the original keeps it twice, as 'name' and 'Title'
    description: str
    bullets: tuple[str, ...]
    pricing: tuple[float, ...]  # one price, or the low and high end of a range
    price_tag: str  # "$12.99" or "$12.99 to $15.0", as the pages print it
    options: dict[str, list[str]]  # option name -> values, in the data's order
    attributes: tuple[str, ...]
    category: str  # raw group: beauty, electronics, fashion, garden, grocery
    query: str
    product_category: str  # the "A › B › C" breadcrumb
    instruction: str | None = None  # synthetic instruction, for the 415 goal products
    instruction_attributes: tuple[str, ...] = ()
    rating: str = "N.A."  # the 1k setting loads no reviews, so every rating reads N.A.


@dataclass
class Catalog:
    """All products in file order, by ASIN, and the price each one sells for in this run."""

    products: list[Product]
    prices: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_asin = {p.asin: p for p in self.products}


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The configured data folder, else $WEBSHOP_DATA; fails naming the fix if files are missing."""
    chosen = data_dir or os.environ.get("WEBSHOP_DATA")
    if not chosen:
        raise ConfigError(f"WebShop data location is not set: {DATA_HINT}")
    root = Path(chosen).expanduser()
    for name in (PRODUCTS_FILE, ATTRIBUTES_FILE, HUMAN_FILE):
        if not (root / name).is_file():
            raise ConfigError(f"{root} has no {name}: {DATA_HINT}")
    return root


def parse_pricing(raw: str | None) -> tuple[tuple[float, ...], str]:
    """Prices from a "$a" or "$a to $b" string; no price means $100.0, as in the original."""
    if not raw:
        return (100.0,), "$100.0"
    values = [float(Decimal(re.sub(r"[^\d.]", "", piece))) for piece in raw.split("$")[1:]]
    if len(values) == 1:
        return (values[0],), f"${values[0]}"
    return (values[0], values[1]), f"${values[0]} to ${values[1]}"


def parse_options(raw: dict | str | None) -> dict[str, list[str]]:
    """Option names lower-cased; values stripped, '/' shown as ' | ', lower-cased; None skipped."""
    options: dict[str, list[str]] = {}
    if not raw:
        return options
    for name, contents in raw.items():
        if contents is None:
            continue
        options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
    return options


def load_products(data_dir: Path, num_products: int | None = 1000) -> list[Product]:
    """The first num_products raw items, minus bad or repeated ASINs, in file order."""
    with (data_dir / PRODUCTS_FILE).open() as handle:
        raw_products = json.load(handle)
    with (data_dir / ATTRIBUTES_FILE).open() as handle:
        attributes = json.load(handle)
    # The original opens the human-instruction file even for synthetic goals; keep that check.
    with (data_dir / HUMAN_FILE).open() as handle:
        json.load(handle)
    if num_products is not None:
        raw_products = raw_products[:num_products]
    seen: set[str] = set()
    products = []
    for raw in raw_products:
        asin = raw["asin"]
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        pricing, price_tag = parse_pricing(raw.get("pricing"))
        bullets = raw["small_description"]
        info = attributes[asin]
        products.append(Product(
            asin=asin,
            name=raw["name"],
            description=raw["full_description"],
            bullets=tuple(bullets) if isinstance(bullets, list) else (bullets,),
            pricing=pricing,
            price_tag=price_tag,
            options=parse_options(raw["customization_options"]),
            attributes=tuple(info["attributes"]) if "attributes" in info else ("DUMMY_ATTR",),
            category=raw["category"],
            query=raw["query"].lower().strip(),
            product_category=raw["product_category"],
            instruction=info.get("instruction"),
            instruction_attributes=tuple(info.get("instruction_attributes") or ()),
        ))
    return products


def draw_prices(products: list[Product], rng: random.Random) -> dict[str, float]:
    """A price per product: ranges draw uniform(low, high) from rng, in catalog order."""
    return {
        p.asin: p.pricing[0] if len(p.pricing) == 1 else rng.uniform(p.pricing[0], p.pricing[1])
        for p in products
    }


def category_of(product: Product) -> str:
    """The paper's category (beauty, food, fashion, furniture, electronics) of a product."""
    return CATEGORY_OF.get(product.category, product.category)
