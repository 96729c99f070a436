"""Prompt machinery shared by every agent format and env.

The opening chat is: a system message (env instruction, agent format, optional hint block), the
`agent.fewshot` solved examples of the same category as chat turns, and a user message (the task
observation, optionally followed by the hint block). Each later turn appends the model's answer as
an assistant message and the env's answer as a user message, so the prompt only grows at its end
(prefix caching works) and later stages can remove the hint block and the examples exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from omegaconf import DictConfig

from hintrag.envs.examples import ExampleEpisode, examples_per_category, load_example_sets
from hintrag.errors import ConfigError
from hintrag.llm.base import Message
from hintrag.records import StepRecord

PLACEMENTS = ("system", "task")
ACTS = ("generate", "rank")
PROMPTS = ("chat", "decision")
THINK_OK = "OK."  # the env-independent answer to a thought


@dataclass(frozen=True)
class Parsed:
    """A model turn read by the agent: the action for the env and the text kept in the history."""

    action: str  # command for the env; "" when nothing usable was found
    kind: str  # act | think | invalid
    text: str  # the assistant turn as it stays in the chat history


class Agent:
    """Base class: subclasses define how an example is rendered and how an answer is parsed."""

    name = "base"

    def __init__(self, agent: DictConfig, env: DictConfig) -> None:
        self.cfg = agent
        self.env = env
        if agent.hint_placement not in PLACEMENTS:
            raise ConfigError(f"agent.hint_placement={agent.hint_placement!r}; choose one of {', '.join(PLACEMENTS)}")
        self.stop = tuple(agent.stop)
        self.max_new_tokens = int(agent.max_new_tokens)
        self.format = str(agent.format)
        self.act = str(agent.get("act", "generate"))
        self.prompt = str(agent.get("prompt", "chat"))
        self.page_words = int(agent.get("page_words", 200))
        self.skip_unchanged = bool(agent.get("skip_unchanged", False))
        self.fewshot = int(agent.fewshot)
        self._check_modes()
        self._check_fewshot()

    def _check_modes(self) -> None:
        """agent.act and agent.prompt: known values, and combinations that mean something."""
        if self.act not in ACTS:
            raise ConfigError(f"agent.act={self.act!r}; choose one of {', '.join(ACTS)}")
        if self.prompt not in PROMPTS:
            raise ConfigError(f"agent.prompt={self.prompt!r}; choose one of {', '.join(PROMPTS)}")
        if self.prompt == "decision":
            if self.fewshot:
                raise ConfigError("agent.prompt=decision shows one turn's state, not a solved example; set agent.fewshot=0")
            if self.cfg.hint_placement != "system":
                raise ConfigError("agent.prompt=decision rewrites the task message every turn; set agent.hint_placement=system")
            from hintrag.envs import decision_view

            recent = self.cfg.get("recent_turns")
            self.view = decision_view(str(self.env.name), None if recent is None else int(recent),
                                      bool(self.cfg.get("memory", False)), bool(self.cfg.get("task_last", False)))
        if self.page_words < 1:
            raise ConfigError(f"agent.page_words={self.page_words} must be >= 1")

    def _check_fewshot(self) -> None:
        """agent.fewshot: at most the solved examples every category of the env has, caught before any model loads."""
        if self.fewshot < 0:
            raise ConfigError(f"agent.fewshot={self.fewshot} must be >= 0")
        if self.fewshot:
            have = examples_per_category(str(self.env.name))
            if self.fewshot > have:
                env = self.env.name
                raise ConfigError(
                    f"agent.fewshot={self.fewshot}, but {env} has {have} solved example(s) per category "
                    f"(hintrag/envs/example_data/{env}.json); set agent.fewshot={have} or lower, or add examples "
                    f"(experiments/make_fewshot*.py writes the traces, {env}_thoughts.json the thoughts)")

    # -- format-specific ----------------------------------------------------------------------
    def example_turns(self, example: ExampleEpisode) -> list[tuple[str, str]]:
        """The example as (assistant turn, observation) pairs in this agent's format."""
        raise NotImplementedError

    def parse(self, output: str) -> Parsed:
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------------
    def turn_text(self, output: str) -> str:
        """The model's answer cut at the first stop string: what the history keeps."""
        for stop in self.stop:
            if stop in output:
                output = output[: output.index(stop)]
        return output.strip()

    def hint_block(self, hints: Sequence[str]) -> str:
        lines = "\n".join(f"- {h}" for h in hints)
        return f"{self.cfg.hint_header}\n{lines}"

    def examples(self, category: str) -> tuple[ExampleEpisode, ...]:
        """The first `agent.fewshot` solved examples of the category, in the file's order."""
        if self.fewshot == 0:
            return ()
        examples = load_example_sets(self.env.name)
        if category not in examples:
            raise ConfigError(f"no {self.env.name} example for category {category!r}; regenerate with experiments/make_fewshot.py")
        return examples[category][: self.fewshot]

    def example_chat(self, examples: Sequence[ExampleEpisode]) -> tuple[list[Message], str]:
        """The examples as chat turns, and the last observation, which opens the task message. Each
        example's first observation follows its header (`example_header`, then `next_example_header`)
        in the user message that ends the example before it."""
        chat: list[Message] = []
        last, header = "", self.cfg.example_header
        for example in examples:
            start = f"{header}\n\n{example.initial_observation}"
            last = f"{last}\n\n{start}" if last else start
            for turn, observation_after in self.example_turns(example):
                chat += [{"role": "user", "content": last}, {"role": "assistant", "content": turn}]
                last = observation_after
            header = self.cfg.next_example_header
        return chat, last

    def opening(self, observation: str, category: str, hints: Sequence[str] = (), fewshot: bool = True) -> list[Message]:
        """The chat before the model's first turn.

        system: instruction, format, and the hint block when placed "system" (before the examples);
        then the solved examples as real chat turns (small models imitate turns far better than a
        transcript); then the task observation, followed by the hint block when placed "task".
        """
        system = [self.env.instruction, self.format]
        task = [observation]
        if hints:
            (system if self.cfg.hint_placement == "system" else task).append(self.hint_block(hints))
        chat: list[Message] = [{"role": "system", "content": "\n\n".join(system)}]
        examples = self.examples(category) if fewshot else ()
        if examples:
            turns, last = self.example_chat(examples)
            chat += turns
            task.insert(0, f"{last}\n\n{self.cfg.task_header}")
        chat.append({"role": "user", "content": "\n\n".join(task)})
        return chat

    def observation_text(self, step: StepRecord, hints: bool = True) -> str:
        """The env's answer as the model reads it, with the step's extra hint unless `hints` is off."""
        if hints and step.extra_hint:
            return f"{step.observation}\n\n{self.cfg.extra_hint_prefix} {step.extra_hint}"
        return step.observation

    def messages(self, opening: list[Message], trace: Sequence[StepRecord], hints: bool = True) -> list[Message]:
        """The prompt of the next turn, for play and for training alike. chat: the opening plus every
        earlier answer and observation. decision: the opening's system message and one user message,
        the env's compact state after these turns (the opening's task message is the first observation)."""
        if self.prompt == "decision":
            turns = [(self.turn_text(s.output), self.observation_text(s, hints)) for s in trace]
            state = self.view(opening[-1]["content"], turns, self.page_words)
            return [opening[0], {"role": "user", "content": state}]
        chat = list(opening)
        for step in trace:
            chat.append({"role": "assistant", "content": self.turn_text(step.output)})
            chat.append({"role": "user", "content": self.observation_text(step, hints)})
        return chat
