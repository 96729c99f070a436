"""StateAct: every model turn is a block of `key: value` lines that restates the agent's state
and ends with `action: ...`. The state is env-specific: on ALFWorld the goal, places visited,
where it is, what it holds and a thought; on WebShop the goal, the page it is on and the option
values picked on the current item. The example's states are read off its trace, per env.

Parsing is lenient: keys may be capitalised, spaced, bulleted or bold; a block without an
`action:` line falls back to a last line that looks like a bare command; anything else is an
invalid action, never an exception.
"""

from __future__ import annotations

import re
from typing import Callable

from omegaconf import DictConfig

from hintrag.agents.base import Agent, Parsed
from hintrag.agents.examples import ExampleEpisode
from hintrag.agents.react import clean_command
from hintrag.errors import ConfigError

_LINE = re.compile(r"^[\s>*#\-•`]*([A-Za-z][A-Za-z _]{0,40}?)[\s*`]*[:=][\s*`]*(.*)$")
NOTHING_HELD = "nothing"
START = "starting point"
NO_OPTIONS = "none"
_SEP = " [SEP] "
_RESULTS_PAGE = re.compile(r"\[SEP\] Page (\d+) \(Total results: \d+\)")
_CLICK = re.compile(r"^click\[(.+)\]$", re.IGNORECASE)


def normalise_key(key: str) -> str:
    return "_".join(key.lower().split())


def read_block(text: str) -> dict[str, str]:
    """`key: value` lines of a turn; later lines of an already-seen key do not overwrite it."""
    state: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            state.setdefault(normalise_key(match.group(1)), match.group(2).strip())
    return state


def example_states(example: ExampleEpisode, task: str) -> list[dict[str, str]]:
    """The state before each step, read off the trace: where the agent went, what it held."""
    visited: list[str] = []
    location, held = START, NOTHING_HELD
    states = []
    for step in example.steps:
        states.append({
            "goal": task,
            "locations_visited": ", ".join(visited) if visited else "none yet",
            "current_location": location,
            "current_inventory": held,
            "thought": step.thought or "",
            "action": step.action,
        })
        words = step.action.split()
        if step.action.startswith("go to ") and step.observation.startswith("You arrive"):
            location = step.action[len("go to "):]
            if location not in visited:
                visited.append(location)
        elif words[:1] == ["take"] and step.observation.startswith("You pick up"):
            held = step.action[len("take "):].split(" from ")[0]
        elif words[:1] == ["move"] and step.observation.startswith("You move"):
            held = NOTHING_HELD
    return states


def alfworld_goal(initial_observation: str) -> str:
    return initial_observation.split("Your task is to:")[-1].strip()


def webshop_goal(initial_observation: str) -> str:
    """The instruction: the text node after "Instruction:" on the search page."""
    nodes = [n.strip() for n in initial_observation.split(_SEP)]
    if "Instruction:" in nodes and nodes.index("Instruction:") + 1 < len(nodes):
        return nodes[nodes.index("Instruction:") + 1]
    return initial_observation.strip()


def webshop_page_kind(observation: str) -> str:
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


def webshop_states(example: ExampleEpisode, task: str) -> list[dict[str, str]]:
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
        new_kind = webshop_page_kind(step.observation)
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


StateReader = Callable[[ExampleEpisode, str], list[dict[str, str]]]
# Per env: how to read the goal off the example's first observation, and its states off the trace.
STATE_READERS: dict[str, tuple[Callable[[str], str], StateReader]] = {
    "alfworld": (alfworld_goal, example_states),
    "webshop": (webshop_goal, webshop_states),
}


class StateActAgent(Agent):
    name = "stateact"

    def __init__(self, agent: DictConfig, env: DictConfig) -> None:
        super().__init__(agent, env)
        self.keys = [normalise_key(k) for k in agent["keys"]]
        if not self.keys or self.keys[-1] != "action":
            raise ConfigError(f"agent.keys={self.keys} must end with 'action'")
        self.format = str(agent.format).replace("{keys}", ", ".join(self.keys))

    def render_state(self, state: dict[str, str]) -> str:
        """One block in the configured key order; keys with no value (a step without a thought) are left out."""
        return "\n".join(f"{k}: {state[k]}" for k in self.keys if state.get(k))

    def example_turns(self, example: ExampleEpisode) -> list[tuple[str, str]]:
        if self.env.name not in STATE_READERS:
            raise ConfigError(f"StateAct has no state reader for env {self.env.name!r}; known: {', '.join(STATE_READERS)}")
        goal_of, states_of = STATE_READERS[self.env.name]
        states = states_of(example, goal_of(example.initial_observation))
        return [(self.render_state(s), step.observation) for s, step in zip(states, example.steps)]

    def parse(self, output: str) -> Parsed:
        text = self.turn_text(output)
        state = read_block(text)
        action = state.get("action", "")
        if not action:  # no action key: accept a final bare line that is not itself a key line
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if lines and not _LINE.match(lines[-1]):
                action = lines[-1]
        command = clean_command(action.splitlines()[0] if action else "")
        return Parsed(command, "act" if command else "invalid", text)
