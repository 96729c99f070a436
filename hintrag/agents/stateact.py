"""StateAct: every model turn is a block of `key: value` lines that restates the agent's state
and ends with `action: ...`. What the state holds is the env's business: each env reads the
states of its solved example off the trace (`hintrag.envs.state_reader`).

Parsing is lenient: keys may be capitalised, spaced, bulleted or bold; a block without an
`action:` line falls back to a last line that looks like a bare command; anything else is an
invalid action, never an exception.
"""

from __future__ import annotations

import re

from omegaconf import DictConfig

from hintrag.agents.base import Agent, Parsed
from hintrag.envs.examples import ExampleEpisode
from hintrag.agents.react import clean_command
from hintrag.envs import state_reader
from hintrag.errors import ConfigError

_LINE = re.compile(r"^[\s>*#\-•`]*([A-Za-z][A-Za-z _]{0,40}?)[\s*`]*[:=][\s*`]*(.*)$")


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


class StateActAgent(Agent):
    name = "stateact"

    def __init__(self, agent: DictConfig, env: DictConfig) -> None:
        super().__init__(agent, env)
        if (self.act, self.prompt) != ("generate", "chat"):
            raise ConfigError("StateAct writes its whole state block every turn: it needs agent.act=generate and "
                              "agent.prompt=chat (rank and decision prompts are for agent=act or react)")
        self.keys = [normalise_key(k) for k in agent["keys"]]
        if not self.keys or self.keys[-1] != "action":
            raise ConfigError(f"agent.keys={self.keys} must end with 'action'")
        self.format = str(agent.format).replace("{keys}", ", ".join(self.keys))

    def render_state(self, state: dict[str, str]) -> str:
        """One block in the configured key order; keys with no value (a step without a thought) are left out."""
        return "\n".join(f"{k}: {state[k]}" for k in self.keys if state.get(k))

    def example_turns(self, example: ExampleEpisode) -> list[tuple[str, str]]:
        goal_of, states_of = state_reader(self.env.name)
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
