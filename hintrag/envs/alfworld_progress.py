"""How far an ALFWorld episode got toward its task, read off its stored trajectory: whether the
agent saw the object the task names, took it, and what it did with it. Success alone is 0 or 1 a
game; on a weak agent these counts say which step of the task fails (the measurements in
docs/results/small_alfworld.md). Analysis only: the agent never sees any of it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hintrag.envs.alfworld_state import MOVE, PICK

# The counts a summary reports, in the task's order.
STEPS = ("games", "saw", "took_at_first_sight", "took", "then_put_back", "then_went_to_target", "placed", "won")


@dataclass(frozen=True)
class Task:
    """The game's task as its folder names it (`pick_heat_then_place_in_recep-Apple-None-Fridge-13`);
    the record's `category` is the part before the object."""

    thing: str   # as observations name it: "apple"
    target: str  # "fridge"; "desklamp" for look_at_obj_in_light

    @classmethod
    def of(cls, episode_id: str) -> "Task":
        game = next((part for part in episode_id.split("/") if part.count("-") >= 4), None)
        if game is None:
            raise ValueError(f"{episode_id!r} is not an ALFWorld game path (<split>/<category>-<Object>-...-<Target>-<n>/...)")
        thing, _, target = game.split("-")[1:4]
        return cls(thing.lower(), target.lower())


@dataclass(frozen=True)
class Progress:
    """One episode: the turn (0-based) of each first event, None where it never happened."""

    saw: int | None             # the first observation that lists the object ("apple 1")
    took_at_first_sight: bool   # the command right after that observation took it
    took: int | None            # the first `take <object> N from <place>` the game carried out
    after_taking: str           # the next command: "put back" (to where it was taken), "to target", "other", ""
    placed: int | None          # the first `move <object> N to <target> N` the game carried out
    won: bool


def progress(record: dict[str, Any]) -> Progress:
    """Read one stored trajectory (its episode_id, trace of action/observation, success)."""
    task = Task.of(record["episode_id"])
    trace = record["trace"]
    named = _named(task.thing)
    saw = next((t for t, step in enumerate(trace) if named.search(step["observation"])), None)
    took_first = saw is not None and saw + 1 < len(trace) and _picked(trace[saw + 1], task.thing) is not None
    took = next((t for t, step in enumerate(trace) if _picked(step, task.thing)), None)
    after = ""
    if took is not None and took + 1 < len(trace):
        place, command = _picked(trace[took], task.thing)["place"], trace[took + 1]["action"]
        after = ("put back" if command.startswith("move ") and command.endswith(f" to {place}")
                 else "to target" if command.startswith(f"go to {task.target} ") else "other")
    placed = next((t for t, step in enumerate(trace) if (move := MOVE.match(step["observation"]))
                   and move["thing"].startswith(f"{task.thing} ") and move["place"].startswith(f"{task.target} ")), None)
    return Progress(saw, took_first, took, after, placed, bool(record["success"]))


@dataclass(frozen=True)
class Sight:
    """A lost game's first sight of the task's object, after which the agent did not take it."""

    episode_id: str
    turn: int    # the observation's turn; the decision it missed is the next one
    chosen: str  # the command the agent sent instead
    take: str    # the take the game offered there


_AT = re.compile(r"^You (?:arrive at|open the) (?P<place>[^.]+)\.")


def missed_sight(record: dict[str, Any]) -> Sight | None:
    """The lost game's first sight of the object if the next command was not its take (None otherwise,
    or where the object was listed by an answer that is not arriving at or opening its place)."""
    seen, trace = progress(record), record["trace"]
    if record["success"] or seen.saw is None or seen.took_at_first_sight or seen.saw + 1 >= len(trace):
        return None
    observation = trace[seen.saw]["observation"]
    place = _AT.match(observation)
    if place is None:
        return None
    thing = _named(Task.of(record["episode_id"]).thing).search(observation)
    return Sight(record["episode_id"], seen.saw, trace[seen.saw + 1]["action"], f"take {thing[0]} from {place['place']}")


def _named(thing: str) -> re.Pattern[str]:
    """The object as observations list it, whole words only ("apple 2", not "pineapple 2")."""
    return re.compile(rf"\b{re.escape(thing)} \d+\b")


def _picked(step: dict[str, Any], thing: str) -> re.Match[str] | None:
    """The game's answer to a take of the task's object (PICK, as the memory state reads it), if it was one."""
    pick = PICK.match(step["observation"])
    return pick if pick and pick["thing"].startswith(f"{thing} ") else None


def summary(records: list[dict[str, Any]]) -> dict[str, int]:
    """The counts of STEPS over episodes: how many saw the object, took it at first sight, took it
    at all, then put it back where it was or went to the target, placed it there, won."""
    counts: Counter[str] = Counter(games=len(records))
    for p in map(progress, records):
        counts.update(saw=p.saw is not None, took_at_first_sight=p.took_at_first_sight, took=p.took is not None,
                      then_put_back=p.after_taking == "put back", then_went_to_target=p.after_taking == "to target",
                      placed=p.placed is not None, won=p.won)
    return {step: counts[step] for step in STEPS}
