"""Build WebShop few-shot examples by playing train goals with a scripted oracle.

For each of the five categories the first goal of the `train` split (goals 1500+) that the
oracle wins is kept. The oracle knows the goal product, so it plans its search offline: the
first candidate query (the instruction's own words, then the product's scrape query) whose
results list the product within the first two pages. It then plays the real env: search, Next >
until the product shows, click it, click each option value the instruction names, Buy Now.
Only episodes with reward 1.0 are kept, and the traces are written in the same schema as
`alfworld.json`, observations exactly as the env returns them (the prompt must show the real
page format).

Usage: ``python experiments/make_fewshot_webshop.py env.data_dir=../shared/data/webshop``
(the project's Hydra config with `env=webshop` implied; ``$WEBSHOP_DATA`` works too).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.agents.examples import save_examples  # noqa: E402
from hintrag.envs import make_suite  # noqa: E402
from hintrag.envs.base import EpisodeSpec  # noqa: E402
from hintrag.envs.webshop import WebShopSuite  # noqa: E402
from hintrag.envs.webshop.goals import Goal  # noqa: E402
from hintrag.envs.webshop.pages import PER_PAGE  # noqa: E402
from hintrag.errors import ConfigError  # noqa: E402

SPLIT = "train"
MAX_PAGES = 2  # the product must show on results page 1 or 2 of the chosen query
MAX_GOALS = 25  # goals tried per category before giving up
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


def plan_search(suite: WebShopSuite, goal: Goal) -> SearchPlan | None:
    """The first candidate query that lists the goal ASIN within MAX_PAGES results pages."""
    for query in candidate_queries(goal):
        hits = suite.hits(query)
        if goal.asin in hits and hits.index(goal.asin) < MAX_PAGES * PER_PAGE:
            return SearchPlan(query, hits.index(goal.asin) // PER_PAGE + 1)
    return None


def play_oracle(suite: WebShopSuite, spec: EpisodeSpec) -> dict[str, Any] | None:
    """Play one goal with the oracle; the trace, or None when it cannot be planned or is not won."""
    episode = suite.make(spec)
    goal = episode.goal
    plan = plan_search(suite, goal)
    if plan is None:
        return None
    actions = [f"search[{plan.query}]"] + ["click[Next >]"] * (plan.page - 1) + [f"click[{goal.asin}]"]
    actions += [f"click[{value}]" for value in goal.goal_options.values()]
    actions.append("click[Buy Now]")
    obs = episode.reset()
    initial, steps = obs.text, []
    for action in actions:
        if obs.done:
            return None
        if action.startswith("click[") and action[6:-1].lower() not in obs.admissible:
            return None  # e.g. an option value shared by two options: the page cannot express it
        obs = episode.step(action)
        steps.append({"action": action, "observation": obs.text})
    if not (obs.done and obs.reward == 1.0):
        return None
    return {"task": episode.task, "initial_observation": initial, "steps": steps, "won": True}


def choose_examples(suite: WebShopSuite) -> dict[str, dict[str, Any]]:
    """One won oracle episode per category: the first train goal of that category that works."""
    specs = suite.episodes(SPLIT)
    examples: dict[str, dict[str, Any]] = {}
    for category in suite.categories:
        for spec in [s for s in specs if s.category == category][:MAX_GOALS]:
            trace = play_oracle(suite, spec)
            print(f"{category}: {spec.id} {'won in ' + str(len(trace['steps'])) + ' steps' if trace else 'skipped'}",
                  flush=True)
            if trace is not None:
                examples[category] = {"game": spec.id, **trace}
                break
        else:
            raise RuntimeError(f"the oracle won none of the first {MAX_GOALS} {category} goals of {SPLIT}")
    return examples


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Play the oracle on `env.data_dir` and write the JSON file beside the agents."""
    if cfg.env.name != "webshop":
        raise ConfigError(f"env={cfg.env.name}: this script builds WebShop examples (env=webshop)")
    start = time.perf_counter()
    suite = make_suite(cfg.env)
    examples = choose_examples(suite)
    source = (f"scripted oracle (search, open the goal product, its options, Buy Now) on the first "
              f"{SPLIT} goals per category, synthetic goals with env.seed={cfg.env.seed}")
    path = save_examples("webshop", source, examples)
    print(f"wrote {path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    if not any(arg.startswith("env=") for arg in sys.argv[1:]):
        sys.argv.insert(1, "env=webshop")  # this script only makes sense for WebShop
    main()
