"""The interface every text environment offers to the rollout loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol


@dataclass(frozen=True)
class EpisodeSpec:
    """One playable episode of a split: a stable id, its category (hint partition) and where it lives."""

    id: str
    category: str
    source: str


@dataclass(frozen=True)
class Failures:
    """How an env says that an action failed, declared by each env (`failures(env config)` in its
    module) so that records, metrics and training filters ask the env instead of naming it."""

    nothing: str | None = None  # its answer to an action that changes nothing (ALFWorld's "Nothing happens.")
    invalid: str | None = None  # an answer marking an invalid action: an episode showing it is not trained on

    def count_nothing(self, observations: Iterable[str]) -> int:
        """How many answers were `nothing`: a record's `nothing_happens` (the field keeps its name on disk)."""
        return sum(o.startswith(self.nothing) for o in observations) if self.nothing else 0

    def shows_invalid(self, observations: Iterable[str]) -> bool:
        """Whether an episode got the env's invalid-action answer (WebShop's `env.invalid_action_text`)."""
        return bool(self.invalid) and any(o == self.invalid for o in observations)


@dataclass
class Observation:
    """What the agent sees after reset or a step.

    `admissible` is what the env itself reports (ALFWorld's commands, WebShop's clickables, as the
    originals list them); `choices` are whole actions an agent may pick among (agent.act=rank),
    empty where it has to write its own (WebShop's search page).
    """

    text: str
    done: bool = False
    won: bool = False
    reward: float = 0.0
    admissible: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    expert: str = ""  # the env's expert's next command from here, on an episode made with expert=True ("" else)


@dataclass
class Demo:
    """An episode played by the env's scripted expert: its steps as (action, observation) dicts,
    in the schema of the few-shot example files. Lost demos are kept so that they can be counted."""

    task: str
    initial_observation: str
    steps: list[dict[str, str]]
    won: bool
    reward: float
    end_reason: str  # won | lost | no_plan (the expert could not plan this episode) | max_steps


class Episode(Protocol):
    """A running game. `task` is the goal sentence; `reset` gives the first observation."""

    spec: EpisodeSpec
    task: str

    def reset(self) -> Observation: ...

    def step(self, action: str) -> Observation: ...

    def no_action(self) -> Observation:
        """The answer to a turn with no usable action in it (the game does not advance)."""
        ...

    def close(self) -> None: ...


class Suite(Protocol):
    """All episodes of one environment, by split."""

    name: str
    categories: tuple[str, ...]
    failures: Failures  # how it says an action failed (counted in records, filtered in training)
    scored: bool  # True: the report leads with the mean reward (score), else with the success rate
    reference_policy: str  # what `reference` plays, in a few words for the report
    labels_any_state: bool  # its expert can name its command from any state another player reached

    def episodes(self, split: str) -> list[EpisodeSpec]: ...

    def make(self, spec: EpisodeSpec, expert: bool = False) -> Episode:
        """A fresh episode; with `expert` each Observation also names the expert's command from that
        state, whoever played the turns before (imitation.label=expert). Only a suite with
        `labels_any_state` can; the others raise ConfigError."""
        ...

    def demonstrate(self, spec: EpisodeSpec, max_steps: int) -> Demo:
        """The episode played by the env's scripted expert (ALFWorld's handcoded expert, WebShop's
        oracle), for expert demonstrations and few-shot examples."""
        ...

    def reference(self, spec: EpisodeSpec, max_steps: int, seed: int) -> Demo:
        """The episode played by the env's trivial policy, which needs no model and no hidden
        knowledge (WebShop: search the instruction, buy the first result; ALFWorld: a seeded
        uniformly random admissible command): the floor a report shows beside Base."""
        ...


def first_words(text: str, n: int) -> str:
    """`text` cut to its first `n` words, " ..." marking a cut (a decision prompt's page budget)."""
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def actions_line(turns: list[tuple[str, str]]) -> str:
    """The actions of (action, observation) turns on one line, as decision prompts show them."""
    return f"Actions so far: {' | '.join(a for a, _ in turns) if turns else 'none'}"


def play_policy(episode: Episode, choose: Callable[[Observation], str], max_steps: int) -> Demo:
    """Play `episode` with a scripted policy until it ends or `max_steps` actions are taken."""
    obs = episode.reset()
    initial, steps = obs.text, []
    while not obs.done and len(steps) < max_steps:
        action = choose(obs)
        obs = episode.step(action)
        steps.append({"action": action, "observation": obs.text})
    episode.close()
    end = "won" if obs.won else ("lost" if obs.done else "max_steps")
    return Demo(episode.task, initial, steps, obs.won, float(obs.reward), end)
