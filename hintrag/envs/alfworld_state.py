"""ALFWorld's StateAct state: read off a solved example's trace (the goal, places visited, where
the agent is, what it holds, its thought), so the example's turns show the block format."""

from __future__ import annotations

from typing import Any

from hintrag.envs.base import actions_line, first_words

NOTHING_HELD = "nothing"
START = "starting point"


def example_states(example: Any, task: str) -> list[dict[str, str]]:
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


def goal(initial_observation: str) -> str:
    return initial_observation.split("Your task is to:")[-1].strip()


def decision_view(initial_observation: str, turns: list[tuple[str, str]], page_words: int) -> str:
    """A compact state for agent.prompt=decision: the room and task, the commands so far, and the
    last observation cut to `page_words` words. It keeps no memory of what earlier places showed."""
    lines = [initial_observation, actions_line(turns)]
    return "\n".join(lines + ([f"Last observation: {first_words(turns[-1][1], page_words)}"] if turns else []))
