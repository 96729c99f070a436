"""What a WebShop agent knows of where it is, read off its own actions and the pages shown: for
StateAct's example blocks (the goal, the page, the option values picked on the current item) and
for the compact state a decision prompt shows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hintrag.envs.base import actions_line, first_words

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


@dataclass
class Where:
    """Where an agent is, known from its own actions and the pages shown (never the env's state):
    the page, its kind, the item, and the option values clicked on that item."""

    page: str = "search"
    kind: str = "start"
    asin: str = ""
    chosen: list[str] = field(default_factory=list)

    @property
    def options(self) -> str:
        return ", ".join(self.chosen) if self.chosen else NO_OPTIONS

    def then(self, action: str, observation: str) -> None:
        """Move on by one step: `action` was taken and `observation` came back. Leaving the item
        forgets its options, as the site does; an answer that is no page changes nothing."""
        new_kind = page_kind(observation)
        click = _CLICK.match(action.strip())
        target = click.group(1).strip() if click else ""
        if new_kind == "results":
            match = _RESULTS_PAGE.search(observation)
            self.page, self.chosen = f"results page {match.group(1) if match else '?'}", []
        elif new_kind in ("start", "done"):
            self.page, self.chosen = "search" if new_kind == "start" else "done", []
        elif new_kind == "item" and self.kind == "results":
            self.asin, self.chosen, self.page = target.upper(), [], f"item {target.upper()}"
        elif new_kind == "item" and self.kind == "item" and target:
            if target.lower() not in self.chosen:
                self.chosen.append(target.lower())
        elif new_kind == "item":  # back from a sub page: same item, same options
            self.page = f"item {self.asin}"
        elif new_kind == "sub":
            self.page = f"item {self.asin} {target.lower()}"
        self.kind = new_kind or self.kind


def example_states(example: Any, task: str) -> list[dict[str, str]]:
    """The state before each step, read off the trace: the page shown and the options picked.

    Pages: "search", "results page N", "item <ASIN>", "item <ASIN> <sub page>", "done". Options
    are the values clicked on the current item page; leaving the item forgets them, as the site does.
    """
    where, states = Where(), []
    for step in example.steps:
        states.append({"goal": task, "current_page": where.page, "selected_options": where.options,
                       "thought": step.thought or "", "action": step.action})
        where.then(step.action, step.observation)
    return states


def page_without_instruction(observation: str, instruction: str) -> str:
    """A page's text without the instruction every page repeats (and the site's name), its entries
    joined by " | " (one token where " [SEP] " is four)."""
    nodes = [n for n in observation.split(_SEP) if n.strip() not in ("WebShop", "Instruction:", instruction.strip())]
    return " | ".join(nodes)


def decision_view(initial_observation: str, turns: list[tuple[str, str]], page_words: int) -> str:
    """The compact state an agent decides from (agent.prompt=decision): the instruction, its
    actions so far, where it is and which options it has clicked there, and the last page shown
    without the repeated instruction, cut to `page_words` words."""
    instruction, where, page, answer = goal(initial_observation), Where(), initial_observation, ""
    for action, observation in turns:
        where.then(action, observation)
        if page_kind(observation):
            page, answer = observation, ""
        else:
            answer = observation
    lines = [f"Instruction: {instruction}", actions_line(turns), f"Current page: {where.page}",
             f"Options chosen: {where.options}"]
    if answer:
        lines.append(f"Last answer: {answer}")
    return "\n".join(lines + [f"Page: {first_words(page_without_instruction(page, instruction), page_words)}"])
