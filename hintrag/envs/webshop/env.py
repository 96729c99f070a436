"""WebShop's text environment ('text' observation mode) as a hintrag suite and episodes.

An episode plays one goal as the original's text env does with `reset(session=i)`: the same
pages, clickables, transitions and purchase reward. Deliberate differences, all documented:
- an action the original silently ignores (unparsable, unknown click, `click[search]`, empty
  search) answers `invalid_action_text` ("Invalid action!", the wording ReAct's WebShop runner
  shows) instead of repeating the page; set it to null for the original's repeat;
- surrounding whitespace of an action is stripped; the verb stays case-sensitive, the argument
  is lower-cased, as in the original;
- with `results_shown` a results page lists only its first products, as the authors' runner did;
  the hidden ones stay clickable by code;
- the episode ends at Buy Now or after `max_steps` env actions (the original's baseline wrapper
  uses 15), and stays ended;
- the hidden `<r>` random search draws from a per-episode generator, not the global one, and
  the `<a>` attribute search (which crashes the original) is an invalid action.
Which page "< Prev" and "Next >" act on is decided from a URL built like the original's, so
even its substring quirks carry over.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from hintrag.envs.base import Demo, EpisodeSpec, Observation, play_policy
from hintrag.envs.webshop import INVALID_ACTION, failures, pages
from hintrag.envs.webshop.data import CATEGORIES, CATEGORY_OF, Catalog, resolve_data_dir
from hintrag.envs.webshop.goals import Goal, build
from hintrag.envs.webshop.reward import get_reward, options_json
from hintrag.envs.webshop.search import DOCUMENTS_FILE, SearchEngine
from hintrag.errors import ConfigError

SEARCH_K = 50
BASE_URL = "http://127.0.0.1:3000"
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
_ACTION = re.compile(r"(.+)\[(.+)\]")
# Goal index ranges of the original's baseline splits (baseline_models/env.py): test 0-499,
# eval 500-1499, train the rest. The paper's runs take the first episodes of test.
SPLITS = {"test": (0, 500), "valid": (500, 1500), "train": (1500, None), "all": (0, None)}


@dataclass(frozen=True)
class Settings:
    """The env.* config keys this suite reads."""

    data_dir: Path
    max_steps: int = 15
    seed: int = 42
    search: str = "bm25"
    cache_dir: Path | None = None  # None: the search's own default, $HINTRAG_CACHE/webshop
    invalid_action_text: str | None = INVALID_ACTION
    results_shown: int | None = None  # products a results page lists; None: all 10

    @classmethod
    def from_config(cls, env: DictConfig) -> "Settings":
        max_steps = int(env.get("max_steps", 15))
        if max_steps < 1:
            raise ConfigError(f"env.max_steps={max_steps} must be at least 1")
        shown = env.get("results_shown")
        if shown is not None and int(shown) < 1:
            raise ConfigError(f"env.results_shown={shown} must be at least 1, or null to list every product")
        return cls(
            data_dir=resolve_data_dir(env.get("data_dir")),
            max_steps=max_steps,
            seed=int(env.get("seed", 42)),
            search=str(env.get("search", "bm25")),
            cache_dir=Path(env.cache_dir).expanduser() if env.get("cache_dir") else None,
            invalid_action_text=env.get("invalid_action_text", INVALID_ACTION),
            results_shown=None if shown is None else int(shown),
        )


def parse_action(action: str) -> tuple[str, str | None]:
    """Verb and argument of `verb[argument]` (the original's regex); no brackets: (action, None)."""
    match = _ACTION.match(action)
    return (match.group(1), match.group(2)) if match else (action, None)


def rule_action(page: pages.Page, instruction: str) -> str:
    """The three-line rule's action on a page; back to the search page where it has nothing to do."""
    if page.kind == "start":
        return f"search[{instruction}]"
    products = [name for name, target in page.clickables.items() if target.kind == "link"]
    if page.kind == "results" and products:
        return f"click[{pages.label(products[0], page.clickables[products[0]])}]"
    return "click[Buy Now]" if page.kind == "item" else "click[Back to Search]"


def page_name(url: str) -> str:
    """The original's page lookup: the first page name the URL contains."""
    for name in ("search_results", "item_page", "item_sub_page", "done"):
        if name in url:
            return name
    return ""


EXPERT_FROM_START = ("WebShop's oracle plays a goal from its first page and cannot name a command from a state "
                     "another player reached; use imitation.label=won")


class WebShopSuite:
    """WebShop's 6910 synthetic goals over the 1000-product catalog, in the original's order."""

    name = "webshop"
    categories = CATEGORIES
    scored = True
    reference_policy = "search[<the instruction as shown>], click the first result, Buy Now"
    labels_any_state = False  # the oracle plans a goal from its first page (hintrag.envs.webshop.oracle)

    def __init__(self, env: DictConfig, search: SearchEngine | None = None) -> None:
        self.settings = Settings.from_config(env)
        self.failures = failures(env)
        self.catalog, self.goals = build(self.settings.data_dir, self.settings.seed)
        self._search = search
        self._hits: dict[str, list[str]] = {}

    def episodes(self, split: str) -> list[EpisodeSpec]:
        """Goals of the split as `fixed_<goal index>`, in goal order."""
        if split not in SPLITS:
            raise ConfigError(f"unknown WebShop split {split!r}; choose one of {', '.join(SPLITS)} (split=...)")
        start, stop = SPLITS[split]
        return [
            EpisodeSpec(id=f"fixed_{i}", category=CATEGORY_OF[self.goals[i].category], source=str(i))
            for i in range(start, len(self.goals) if stop is None else min(stop, len(self.goals)))
        ]

    def make(self, spec: EpisodeSpec, expert: bool = False) -> "WebShopEpisode":
        if expert:
            raise ConfigError(EXPERT_FROM_START)
        return WebShopEpisode(spec, self, self.goals[int(spec.source)])

    def demonstrate(self, spec: EpisodeSpec, max_steps: int) -> Demo:
        from hintrag.envs.webshop.oracle import play_oracle

        return play_oracle(self, spec, max_steps)

    def reference(self, spec: EpisodeSpec, max_steps: int, seed: int) -> Demo:
        """The three-line rule: search the instruction as the page shows it, click the first
        result, Buy Now (the rule is deterministic: `seed` plays no part)."""
        episode = self.make(spec)
        return play_policy(episode, lambda obs: rule_action(episode.page, episode.task), max_steps)

    @property
    def engine(self) -> SearchEngine:
        """The search engine, built (or loaded from its cache) on first use."""
        if self._search is None:
            from hintrag.envs.webshop.search import make_search

            documents = self.settings.data_dir / DOCUMENTS_FILE
            if not documents.is_file():
                raise ConfigError(f"{self.settings.data_dir} has no {DOCUMENTS_FILE}, which the search indexes")
            self._search = make_search(self.settings.search, documents, self.settings.cache_dir)
        return self._search

    def hits(self, query: str) -> list[str]:
        """Top-50 ASINs for a query, remembered: the engine is deterministic, pages re-ask often."""
        if query not in self._hits:
            if len(self._hits) >= 8192:
                self._hits.clear()
            self._hits[query] = list(self.engine.search(query, k=SEARCH_K))
        return self._hits[query]


@dataclass
class _Session:
    """The original's per-session state between pages."""

    keywords: list[str] | None = None
    page: int | None = None
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)


class WebShopEpisode:
    """One goal played in text mode; Observation.admissible lists the page's clickables."""

    def __init__(self, spec: EpisodeSpec, suite: WebShopSuite, goal: Goal) -> None:
        self.spec = spec
        self.task = goal.instruction_text
        self.goal = goal
        self.suite = suite
        self.catalog: Catalog = suite.catalog
        self.session_id = spec.source
        self.steps = 0
        self.done = False
        self.reward = 0.0
        self.info: dict = {}
        self._rng = random.Random()
        self._to_start()

    def reset(self) -> Observation:
        self.steps, self.done, self.reward, self.info = 0, False, 0.0, {}
        self._rng.seed(f"{self.suite.settings.seed}-{self.spec.source}")  # only the hidden <r> search draws
        self._to_start()
        return self._observe()

    def step(self, action: str) -> Observation:
        if self.done:
            return self._observe()
        self.steps += 1
        valid = self._act(action.strip())
        if self.steps >= self.suite.settings.max_steps:
            self.done = True
        invalid = self.suite.settings.invalid_action_text
        return self._observe(invalid if not valid and invalid is not None else None)

    def no_action(self) -> Observation:
        """Like an action the original ignores, but no step is spent: the model said no action."""
        return self._observe(self.suite.settings.invalid_action_text)

    def close(self) -> None:
        pass

    @property
    def page(self) -> pages.Page:
        return self._page

    def _observe(self, text: str | None = None) -> Observation:
        return Observation(
            text=self._page.text if text is None else text, done=self.done, won=self.reward == 1.0,
            reward=self.reward, admissible=self._page.admissible, choices=self._page.choices,
        )

    def _act(self, action: str) -> bool:
        """Apply one action; False when the original would ignore it."""
        verb, arg = parse_action(action)
        if arg is not None:
            arg = arg.lower()
        if verb == "search" and arg:
            return self._search(arg.split(" "), 1)
        if verb == "click" and arg in self._page.clickables and arg != "search":
            return self._click(arg)
        return False

    def _click(self, name: str) -> bool:
        where = page_name(self._url)
        state = self._state
        if name == "buy now":
            return self._buy()
        if name == "back to search":
            self._to_start()
            return True
        if name == "next >" and where == "search_results":
            return self._search(state.keywords, state.page + 1)
        if name == "< prev" and where == "search_results":
            return self._search(state.keywords, state.page - 1)
        if name == "< prev" and where == "item_page":
            return self._search(state.keywords, state.page)
        if name in {s.lower() for s in SUB_PAGES}:
            return self._sub_page(next(s for s in SUB_PAGES if s.lower() == name))
        return self._item(name)  # a product link, an option, or "< prev" from a sub page

    def _to_start(self) -> None:
        self._state = _Session()
        self._page = pages.start_page(self.task)
        self._url = f"{BASE_URL}/{self.session_id}"

    def _search(self, keywords: list[str], page: int) -> bool:
        products = self._results(keywords)
        if products is None:
            return False
        self._state = _Session(keywords=keywords, page=page)
        self._page = pages.results_page(self.task, products, page, self.suite.settings.results_shown)
        self._url = f"{BASE_URL}/search_results/{self.session_id}/{'+'.join(keywords)}/{page}"
        return True

    def _results(self, keywords: list[str]) -> list | None:
        """Products for the keywords, with the original's hidden <r>, <c>, <q> searches."""
        products = self.catalog.products
        if keywords[0] == "<r>":
            return self._rng.sample(products, k=min(SEARCH_K, len(products)))
        if keywords[0] == "<a>" or (keywords[0] == "<c>" and len(keywords) < 2):
            return None
        if keywords[0] == "<c>":
            return [p for p in products if p.category == keywords[1].strip()]
        if keywords[0] == "<q>":
            query = " ".join(keywords[1:]).strip()
            return [p for p in products if p.query == query]
        by_asin = self.catalog.by_asin
        return [by_asin[a] for a in self.suite.hits(" ".join(keywords)) if a in by_asin]

    def _item(self, name: str) -> bool:
        state, target = self._state, self._page.clickables[name]
        if target.kind == "link":
            state.asin = name.upper()
        elif target.kind == "radio":
            state.options[target.option] = name
        if state.asin is None or state.keywords is None:
            return False  # the original fails here with an error
        self._page = pages.item_page(self.task, self.catalog.by_asin[state.asin])
        keywords, options = "+".join(state.keywords), json.dumps(state.options)
        self._url = f"{BASE_URL}/item_page/{self.session_id}/{state.asin}/{keywords}/{state.page}/{options}"
        return True

    def _sub_page(self, name: str) -> bool:
        state = self._state
        if state.asin is None or state.keywords is None:
            return False
        self._page = pages.sub_page(self.task, self.catalog.by_asin[state.asin], name)
        self._url = (
            f"{BASE_URL}/item_sub_page/{self.session_id}/{state.asin}/{'+'.join(state.keywords)}/"
            f"{state.page}/{name}/{state.options}"
        )
        return True

    def _buy(self) -> bool:
        state = self._state
        if state.asin is None:
            return False
        product = self.catalog.by_asin[state.asin]
        self.reward, info = get_reward(product, self.goal, self.catalog.prices[state.asin], state.options)
        self.info = info.as_dict()
        self.done = True
        self._page = pages.done_page(state.asin, options_json(state.options), self.reward)
        self._url = f"{BASE_URL}/done/{self.session_id}/{state.asin}/{state.options}"
        return True
