"""The WebShop text env: the original's reference episodes step by step, invalid actions, limits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA
from omegaconf import OmegaConf

from hintrag.envs.webshop.env import WebShopSuite, page_name, parse_action
from hintrag.errors import ConfigError

DATA = WEBSHOP_DATA
INVALID = "Invalid action!"
NAV = {"back to search", "< prev", "next >"}


def _jsonl(name: str) -> list[dict]:
    with gzip.open(DATA / "reference" / name, "rt") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def episodes(webshop_data: Path) -> list[dict]:
    return _jsonl("ref_episodes_text.jsonl.gz")


class ReferenceLookupSearch:
    """TEST DOUBLE, never used by the env itself: answers queries from the original's recorded
    top-50 lists. Four episode queries are not in that file; for them the double rebuilds the
    ranking from the two result pages the episode shows and pads it to 50 with unseen ASINs,
    which no step displays."""

    def __init__(self, episodes: list[dict]) -> None:
        self.top = {r["query"]: r["asins"] for r in _jsonl("ref_search_top50.jsonl.gz")}
        with gzip.open(DATA / "documents_1k.jsonl.gz", "rt") as handle:
            every = [json.loads(line)["id"] for line in handle]
        for episode in episodes:
            query = episode["steps"][1]["action"][len("search["):-1]
            if query not in self.top:
                shown = [c.upper() for s in episode["steps"][1:3] for c in s["clickables"] if c not in NAV]
                self.top[query] = shown + [a for a in every if a not in shown][: 50 - len(shown)]

    def search(self, query: str, k: int = 50) -> list[str]:
        return self.top[query][:k]


def _suite(episodes: list[dict], **env) -> WebShopSuite:
    return WebShopSuite(OmegaConf.create({"data_dir": str(DATA), **env}), search=ReferenceLookupSearch(episodes))


@pytest.fixture(scope="module")
def suite(episodes: list[dict]) -> WebShopSuite:
    return _suite(episodes)


def _replay(suite: WebShopSuite, record: dict) -> list[str]:
    """Differences between the env and one recorded episode, step by step."""
    episode = suite.make(suite.episodes("all")[record["session"]])
    problems = []
    for n, step in enumerate(record["steps"]):
        obs = episode.reset() if step["action"] == "reset" else episode.step(step["action"])
        got = (obs.text, obs.admissible, obs.reward, obs.done)
        want = (step["observation"], step["clickables"], step.get("reward", 0.0), step.get("done", False))
        if got[:2] != want[:2] or abs(got[2] - want[2]) > 1e-6 or got[3] != want[3]:
            problems.append(f"session {record['session']} step {n} {step['action']}")
    assert obs.won == (record["final_reward"] == 1.0)
    return problems


def test_reference_episodes_with_recorded_search(suite: WebShopSuite, episodes: list[dict]) -> None:
    assert len(episodes) == 12
    assert [p for record in episodes for p in _replay(suite, record)] == []


def test_reference_episodes_with_the_real_search(episodes: list[dict], tmp_path: Path) -> None:
    pytest.importorskip("hintrag.envs.webshop.search")
    real = WebShopSuite(OmegaConf.create({"data_dir": str(DATA), "cache_dir": str(tmp_path)}))
    assert [p for record in episodes for p in _replay(real, record)] == []


@pytest.mark.parametrize(
    "action", ["click[buy now]", "click[search]", "search[]", "search", "Search[pillows]", "buy now", "", "click[]"]
)
def test_invalid_on_the_start_page(suite: WebShopSuite, action: str) -> None:
    episode = suite.make(suite.episodes("test")[0])
    start = episode.reset()
    obs = episode.step(action)
    assert (obs.text, obs.done, obs.reward, obs.admissible) == (INVALID, False, 0.0, ["search"])
    assert episode.step("click[back to search]").text == INVALID  # the state did not move
    assert episode.page.text == start.text


def test_invalid_clicks_on_other_pages(suite: WebShopSuite) -> None:
    episode = suite.make(suite.episodes("test")[0])
    episode.reset()
    results = episode.step("search[decorative pillows]")
    assert episode.step("click[description]").text == INVALID  # not on a results page
    assert episode.step("click[b01a0l5fxa]").text == INVALID  # a product of page 2
    assert episode.step("click[< prev]").text == INVALID  # page 1 has no < Prev
    item = episode.step("click[B0743JKHBV]")  # the argument is lower-cased first
    assert item.text.endswith("Buy Now") and "size" in item.text.split(" [SEP] ")
    assert episode.step("click[next >]").text == INVALID
    assert episode.step("click[b09hkzs7lv]").text == INVALID  # results links are gone
    assert episode.step("click[< prev]").text == results.text


def test_invalid_action_text_can_be_the_originals_page_repeat(episodes: list[dict]) -> None:
    quiet = _suite(episodes, invalid_action_text=None)
    episode = quiet.make(quiet.episodes("test")[0])
    start = episode.reset()
    assert episode.step("click[buy now]").text == start.text


def test_oracle_purchase_wins(suite: WebShopSuite) -> None:
    episode = suite.make(suite.episodes("test")[0])
    episode.reset()
    episode.step("search[decorative pillows]")
    episode.step("click[b0743jkhbv]")
    assert episode.step('click[28" x 28"]').reward == 0.0
    obs = episode.step("click[buy now]")
    assert (obs.done, obs.won, obs.reward, obs.admissible) == (True, True, 1.0, [])
    assert 'options [SEP] {"size": "28\\" x 28\\""}' in obs.text
    assert obs.text.endswith("1.0 [SEP] Reward Details [SEP] None")
    assert episode.info["r_option"] == 1.0
    assert episode.step("search[more]") == obs  # an ended episode stays ended


def test_step_limit_counts_every_env_action(episodes: list[dict]) -> None:
    short = _suite(episodes, max_steps=3)
    episode = short.make(short.episodes("test")[0])
    episode.reset()
    assert not episode.step("search[decorative pillows]").done
    assert not episode.step("click[nothing]").done
    last = episode.step("click[b0743jkhbv]")
    assert (last.done, last.won, last.reward) == (True, False, 0.0)
    assert last.text.endswith("Buy Now")


def test_results_shown_lists_the_first_products_and_keeps_the_rest_clickable(episodes: list[dict]) -> None:
    """env.results_shown=3, the authors' runner: a results page lists three products; the other
    seven are not in its text nor among the offered choices, yet a click on one's code opens it."""
    full, top3 = _suite(episodes), _suite(episodes, results_shown=3)
    pages = []
    for suite in (full, top3):
        episode = suite.make(suite.episodes("test")[0])
        episode.reset()
        pages.append((episode, episode.step("search[decorative pillows]")))
    (_, every), (episode, short) = pages
    products = [a for a in every.admissible if a not in NAV]
    assert len(products) == 10 and short.admissible == every.admissible
    assert all(a.upper() in short.text for a in products[:3]) and not any(a.upper() in short.text for a in products[3:])
    assert [c for c in short.choices if c.lower()[6:-1] in products] == [f"click[{a.upper()}]" for a in products[:3]]
    assert episode.step(f"click[{products[7]}]").text.endswith("Buy Now")  # hidden, still clickable
    assert episode.step("click[< prev]").text == short.text  # back on the same short page
    with pytest.raises(ConfigError, match="results_shown"):
        _suite(episodes, results_shown=0)


def test_navigation_quirks_of_the_original(suite: WebShopSuite) -> None:
    episode = suite.make(suite.episodes("test")[0])
    start = episode.reset()
    episode.step("search[decorative pillows]")
    for _ in range(5):
        last = episode.step("click[next >]")
    assert "Page 6 (Total results: 50) [SEP] < Prev [SEP] Next >" in last.text  # Next > never disappears
    assert last.admissible == ["back to search", "< prev", "next >"]
    page5 = episode.step("click[< prev]")
    assert "Page 5 (Total results: 50)" in page5.text
    episode.step(f"click[{page5.admissible[3]}]")
    again = episode.step("search[decorative pillows]")  # search works from any page, as in the original
    assert "Page 1 (Total results: 50)" in again.text
    assert episode.step("click[back to search]").text == start.text
    hidden = episode.step("search[<q> decorative pillows]")  # the original's exact-query listing
    assert "b0743jkhbv" in hidden.admissible


def test_action_parsing_and_page_names() -> None:
    assert parse_action("search[red shoes]") == ("search", "red shoes")
    assert parse_action("click[a] then [b]") == ("click[a] then ", "b")  # greedy, as the original
    assert parse_action("click") == ("click", None)
    assert page_name("http://127.0.0.1:3000/item_page/0/B0/search_results/1/{}") == "search_results"
    assert page_name("http://127.0.0.1:3000/0") == ""
