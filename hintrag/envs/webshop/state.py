"""WebShop's StateAct state: read off a solved example's trace (the goal, the page shown, the
option values picked on the current item), so the example's turns show the block format."""

from __future__ import annotations

import re
from typing import Any

NO_OPTIONS = "none"
_SEP = " [SEP] "
_RESULTS_PAGE = re.compile(r"\[SEP\] Page (\d+) \(Total results: \d+\)")
_CLICK = re.compile(r"^click\[(.+)\]$", re.IGNORECASE)


def goal(initial_observation: str) -> str:
    """The instruction: the text node after "Instruction:" on the search page."""
    nodes = [n.strip() for n in initial_observation.split(_SEP)]
    if "Instruction:" in nodes and nodes.index("Instruction:") + 1 < len(nodes):
        return nodes[nodes.index("Instruction:") + 1]
    return initial_observation.strip()


def page_kind(observation: str) -> str:
    """Which WebShop page an observation shows: start, results, item, sub, done, or "" (an
    answer that is no page, such as "Invalid action!", which leaves the agent where it was)."""
    if observation.startswith("Thank you for shopping"):
        return "done"
    if observation.startswith("WebShop" + _SEP):
        return "start"
    if not observation.startswith("Instruction:"):
        return ""
    if _RESULTS_PAGE.search(observation):
        return "results"
    return "item" if observation.endswith("Buy Now") else "sub"


def example_states(example: Any, task: str) -> list[dict[str, str]]:
    """The state before each step, read off the trace: the page shown and the options picked.

    Pages: "search", "results page N", "item <ASIN>", "item <ASIN> <sub page>", "done". Options
    are the values clicked on the current item page; leaving the item forgets them, as the site does.
    """
    page, kind, asin, chosen = "search", "start", "", []
    states = []
    for step in example.steps:
        states.append({
            "goal": task,
            "current_page": page,
            "selected_options": ", ".join(chosen) if chosen else NO_OPTIONS,
            "thought": step.thought or "",
            "action": step.action,
        })
        new_kind = page_kind(step.observation)
        click = _CLICK.match(step.action.strip())
        target = click.group(1).strip() if click else ""
        if new_kind == "results":
            match = _RESULTS_PAGE.search(step.observation)
            page, chosen = f"results page {match.group(1) if match else '?'}", []
        elif new_kind in ("start", "done"):
            page, chosen = "search" if new_kind == "start" else "done", []
        elif new_kind == "item" and kind == "results":
            asin, chosen, page = target.upper(), [], f"item {target.upper()}"
        elif new_kind == "item" and kind == "item" and target:
            if target.lower() not in chosen:
                chosen.append(target.lower())
        elif new_kind == "item":  # back from a sub page: same item, same options
            page = f"item {asin}"
        elif new_kind == "sub":
            page = f"item {asin} {target.lower()}"
        kind = new_kind or kind
    return states
