"""WebShop (Yao et al. 2022) in its 1000-product setting with synthetic goals, as a text env.

Reproduces the original's text mode: the same catalog processing, the same 6910 goals for a
seed (42 by default), the same pages and clickables, and the same purchase reward.

- data.py: products as the original loads them; the five paper categories
- goals.py: synthetic goals and their seeded prices and price limits
- reward.py: the purchase reward (rapidfuzz for thefuzz, spaCy en_core_web_sm for title nouns)
- pages.py: the text each page shows and its clickables
- env.py: WebShopSuite and WebShopEpisode (hintrag.envs.base protocols)
- oracle.py: the scripted oracle; state.py: StateAct's and decision prompts' views of a page
- search.py: the BM25 ranking of the original's Lucene index
"""

from __future__ import annotations

from omegaconf import DictConfig

from hintrag.envs.base import Failures

INVALID_ACTION = "Invalid action!"  # env.invalid_action_text's default, the wording of ReAct's WebShop runner
# `env` keys that do not decide an episode's result, beside those every env has (hintrag.envs).
NOT_RESULT = {
    "search": "the python and lucene engines rank identically (tests/test_webshop_search.py)",
    "cache_dir": "where the search index is cached",
}

# `env` keys added after runs were stored, at the value that plays as before (hintrag.envs.added).
ADDED = {"results_shown": None}


def failures(env: DictConfig) -> Failures:
    """WebShop answers `env.invalid_action_text` to an action the original ignores (null: it repeats
    the page): counted like "nothing happens", and an episode that got it is not trained on."""
    text = env.get("invalid_action_text", INVALID_ACTION)
    return Failures(nothing=text, invalid=text)
