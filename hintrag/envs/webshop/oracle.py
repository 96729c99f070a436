"""WebShop's scripted oracle: expert demonstrations (`mode=demos`) and the few-shot examples
(experiments/make_fewshot_webshop.py) both come from here.

The oracle knows the goal product, so it plans its search offline: the first candidate query
(the instruction's own words, then the product's scrape query) whose results list the product
within the first two pages. It then plays the real env: search, Next > until the product shows,
click it, click each option value the instruction names, Buy Now. Observations are exactly what
the env returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hintrag.envs.base import Demo, EpisodeSpec
from hintrag.envs.webshop.goals import Goal
from hintrag.envs.webshop.pages import PER_PAGE

if TYPE_CHECKING:
    from hintrag.envs.webshop.env import WebShopSuite

MAX_PAGES = 2  # the product must show on results page 1 or 2 of the chosen query
# Words the search drops anyway (Lucene English stopwords); leaving them out keeps the query short.
_FILLER = frozenset({"and", "for", "with", "a", "an", "the", "of", "to", "in", "on"})
_OPTIONS = re.compile(r" with [a-z][a-z ]*: ")


@dataclass(frozen=True)
class SearchPlan:
    """What the oracle will type and on which results page the goal product then appears."""

    query: str
    page: int


def instruction_phrase(instruction: str) -> str:
    """The product description part of an instruction: no 'Find me', no options, no price."""
    text = instruction.split(", and price lower than")[0]
    text = _OPTIONS.split(text)[0]
    return text.removeprefix("Find me ").strip()


def keywords(text: str) -> str:
    """Lower-cased words without commas and without words the search ignores."""
    words = text.lower().replace(",", " ").split()
    return " ".join(w for w in words if w not in _FILLER)


def candidate_queries(goal: Goal) -> list[str]:
    """Queries in the order the oracle tries them: the instruction's words first (what a model
    can copy), then the shorter scrape query the product was found with."""
    out: list[str] = []
    for query in (keywords(instruction_phrase(goal.instruction_text)), keywords(goal.query)):
        if query and query not in out:
            out.append(query)
    return out


def plan_search(suite: "WebShopSuite", goal: Goal) -> SearchPlan | None:
    """The first candidate query that lists the goal ASIN within MAX_PAGES results pages."""
    for query in candidate_queries(goal):
        hits = suite.hits(query)
        if goal.asin in hits and hits.index(goal.asin) < MAX_PAGES * PER_PAGE:
            return SearchPlan(query, hits.index(goal.asin) // PER_PAGE + 1)
    return None


def play_oracle(suite: "WebShopSuite", spec: EpisodeSpec, max_steps: int) -> Demo:
    """Play one goal with the oracle, at most `max_steps` actions; a lost or unplannable goal is
    returned too (won=False), with what was played."""
    episode = suite.make(spec)
    obs = episode.reset()
    initial, steps = obs.text, []
    plan = plan_search(suite, episode.goal)
    if plan is None:
        return Demo(episode.task, initial, [], False, 0.0, "no_plan")
    goal = episode.goal
    actions = [f"search[{plan.query}]"] + ["click[Next >]"] * (plan.page - 1) + [f"click[{goal.asin}]"]
    actions += [f"click[{value}]" for value in goal.goal_options.values()]
    actions.append("click[Buy Now]")
    for action in actions:
        if obs.done or len(steps) >= max_steps:
            break
        if action.startswith("click[") and action[6:-1].lower() not in obs.admissible:
            return Demo(episode.task, initial, steps, False, 0.0, "no_plan")  # e.g. a value two options share
        obs = episode.step(action)
        steps.append({"action": action, "observation": obs.text})
    won = obs.done and obs.reward == 1.0
    end = "won" if won else ("lost" if obs.done else "max_steps")
    return Demo(episode.task, initial, steps, won, float(obs.reward) if obs.done else 0.0, end)
