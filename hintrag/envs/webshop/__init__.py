"""WebShop (Yao et al. 2022) in its 1000-product setting with synthetic goals, as a text env.

Reproduces the original's text mode: the same catalog processing, the same 6910 goals for a
seed (42 by default), the same pages and clickables, and the same purchase reward.

- data.py: products as the original loads them; the five paper categories
- goals.py: synthetic goals and their seeded prices and price limits
- reward.py: the purchase reward (rapidfuzz for thefuzz, spaCy en_core_web_sm for title nouns)
- pages.py: the text each page shows and its clickables
- env.py: WebShopSuite and WebShopEpisode (hintrag.envs.base protocols)
- search.py: the BM25 ranking of the original's Lucene index
"""

from hintrag.envs.webshop.env import WebShopEpisode, WebShopSuite

__all__ = ["WebShopEpisode", "WebShopSuite"]
