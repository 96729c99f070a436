"""WebShop's scripted oracle: expert demonstrations (`mode=demos`) and the few-shot examples
(experiments/make_fewshot_webshop.py) both come from here.

The oracle knows the goal product, so it checks offline that searching the instruction exactly as
the page shows it lists the product on the first results page (a goal where it does not gives no
demonstration, counted as `no_plan`). It then plays the real env: search, click the product,
click each option value the instruction names, Buy Now. Observations are exactly what the env
returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hintrag.envs.base import Demo, EpisodeSpec
from hintrag.envs.webshop.goals import Goal
from hintrag.envs.webshop.pages import PER_PAGE

if TYPE_CHECKING:
    from hintrag.envs.webshop.env import WebShopSuite

def plan_search(suite: "WebShopSuite", goal: Goal) -> str | None:
    """The instruction exactly as the page shows it, if the goal product is then on the first
    results page; else None: the goal gives no demonstration.

    A demonstration teaches only what a model can see. Copying the instruction is a choice a
    model can learn (and a rule that does just that scores 59.3 on test goals 0-99); the
    product's scrape query, or a product found by paging, is knowledge the page does not give.
    """
    query = goal.instruction_text.strip()
    hits = suite.hits(query.lower())  # what the env looks up for search[query]
    if goal.asin in hits and hits.index(goal.asin) < PER_PAGE:
        return query
    return None


def play_oracle(suite: "WebShopSuite", spec: EpisodeSpec, max_steps: int) -> Demo:
    """Play one goal with the oracle, at most `max_steps` actions; a lost or unplannable goal is
    returned too (won=False), with what was played."""
    episode = suite.make(spec)
    obs = episode.reset()
    initial, steps = obs.text, []
    query = plan_search(suite, episode.goal)
    if query is None:
        return Demo(episode.task, initial, [], False, 0.0, "no_plan")
    goal = episode.goal
    actions = [f"search[{query}]", f"click[{goal.asin}]"]
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
