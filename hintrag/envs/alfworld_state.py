"""ALFWorld's StateAct state: read off a solved example's trace (the goal, places visited, where
the agent is, what it holds, its thought), so the example's turns show the block format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hintrag.envs.base import actions_line, first_words

VIEW_OPTIONS = ("recent_turns", "memory", "task_last")  # agent.* keys its decision state reads
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


def decision_view(initial_observation: str, turns: list[tuple[str, str]], page_words: int,
                  recent_turns: int | None = None, memory: bool = False, task_last: bool = False) -> str:
    """A compact state for agent.prompt=decision: the room and task, or with `memory` the task and
    what the agent's own turns taught it (where it is, what it holds, what each place it visited
    showed, which of the room's places it has not visited), then its commands so far and the last observation cut to
    `page_words` words, or with `recent_turns` its last N turns in full. With `task_last` (memory
    only) the task line closes the state instead of opening it, next to the command it decides
    (where it is, what it holds and the task's target then sit a few lines apart). Every fact comes
    from text the agent was shown; nothing from the game's hidden state."""
    lines = [initial_observation]
    if memory:  # the room's receptacles are all in "Seen" or "Not visited"
        lines = Memory.after(initial_observation, turns).lines()
    task = [f"Your task is to: {goal(initial_observation)}"] if memory else []
    if not task_last:
        lines = task + lines
    if recent_turns is None:
        lines.append(actions_line(turns))
        lines += [f"Last observation: {first_words(turns[-1][1], page_words)}"] if turns else []
    else:
        recent = turns[len(turns) - recent_turns:] if recent_turns else []
        lines.append("Last turns:" if recent else "Last turns: none")
        lines += [f"> {action}\n{first_words(observation, page_words)}" for action, observation in recent]
    return "\n".join(lines + (task if task_last else []))


# What ALFWorld answers, in the words its observations use (alfworld 0.4.x).
_ARRIVE = re.compile(r"^You arrive at (?P<place>[^.]+)\.")
_ON = re.compile(r"On the (?P<place>[^,]+), you see (?P<things>.+?)\.?$")
_INSIDE = re.compile(r"The (?P<place>[^.]+?) is open\. In it, you see (?P<things>.+?)\.?$")
_CLOSED = re.compile(r"The (?P<place>[^.]+?) is closed\.")
PICK = re.compile(r"^You pick up the (?P<thing>.+?) from the (?P<place>.+?)\.$")
MOVE = re.compile(r"^You move the (?P<thing>.+?) to the (?P<place>.+?)\.$")
_CHANGE = re.compile(r"^You (?P<verb>heat|cool|clean) the (?P<thing>.+?) using the .+\.$")
_DONE = {"heat": "heated", "cool": "cooled", "clean": "cleaned"}
CLOSED = "closed, not looked inside"


def things(listing: str) -> list[str]:
    """ "a apple 1, a knife 2, and a cup 1" -> ["apple 1", "knife 2", "cup 1"]; "nothing" -> []."""
    items = [i.strip() for i in re.split(r",\s*(?:and\s+)?|\s+and\s+", listing) if i.strip()]
    return [re.sub(r"^(a|an|some)\s+", "", i) for i in items if i != "nothing"]


@dataclass
class Memory:
    """What an ALFWorld agent knows from its own turns: where it is, what it holds (and what it did
    to it), what each place it visited or opened showed, in the order first seen."""

    room: list[str]
    location: str = START
    held: str = NOTHING_HELD
    treated: list[str] = field(default_factory=list)
    seen: dict[str, list[str] | None] = field(default_factory=dict)  # None: closed, not looked inside

    @classmethod
    def after(cls, initial_observation: str, turns: list[tuple[str, str]]) -> "Memory":
        memory = cls(room=receptacles(initial_observation))
        for _, observation in turns:
            memory.then(observation)
        return memory

    def then(self, observation: str) -> None:
        """Update from one answer of the game; an answer that changes nothing ("Nothing happens.")
        matches no pattern."""
        if arrive := _ARRIVE.match(observation):
            self.location = arrive["place"]
        if listing := (_INSIDE.search(observation) or _ON.search(observation)):
            self.seen[listing["place"]] = things(listing["things"])
        elif (closed := _CLOSED.search(observation)) and closed["place"] not in self.seen:
            self.seen[closed["place"]] = None
        if pick := PICK.match(observation):
            self.held, self.treated = pick["thing"], []
            if pick["thing"] in (self.seen.get(pick["place"]) or []):
                self.seen[pick["place"]].remove(pick["thing"])
        elif move := MOVE.match(observation):
            self.held, self.treated = NOTHING_HELD, []
            self.seen[move["place"]] = (self.seen.get(move["place"]) or []) + [move["thing"]]
        elif change := _CHANGE.match(observation):
            self.treated.append(_DONE[change["verb"]])

    def lines(self) -> list[str]:
        held = f"{self.held} ({', '.join(self.treated)})" if self.treated else self.held
        seen = "; ".join(f"{place}: {CLOSED if listed is None else ', '.join(listed) or 'nothing'}"
                         for place, listed in self.seen.items())
        unvisited = [r for r in self.room if r not in self.seen and r != self.location]
        # "Seen" grows at its end, so the prompt's cached prefix (the hf backend's) reaches into it
        return [f"Seen: {seen or 'nothing yet'}", f"Not visited: {', '.join(unvisited) or 'none'}",
                f"You are at: {self.location}. You hold: {held}."]


def receptacles(initial_observation: str) -> list[str]:
    """The room's receptacles, as its first description lists them."""
    match = re.search(r"Looking quickly around you, you see (.+?)\.\s*(?:\n|$)", initial_observation)
    return things(match.group(1)) if match else []
