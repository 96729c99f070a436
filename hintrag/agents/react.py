"""ReAct: each turn is either a thought ("think: ...", answered "OK.") or one command."""

from __future__ import annotations

import re

from hintrag.agents.base import THINK_OK, Agent, Parsed
from hintrag.envs.examples import ExampleEpisode

# Labels small models put before a command: "> ", "Action: ", "Act 3:", "Command -", numbering.
_LABEL = re.compile(r"^\s*(?:>+|[-*•]|\d+[.)]|(?:action|act|command|next action)\s*\d*\s*[:\-])\s*", re.IGNORECASE)
_THINK = re.compile(r"^\s*(?:think|thought|thinking|reasoning)\s*\d*\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'`“”‘’"


def clean_command(line: str) -> str:
    """Strip labels, quotes and trailing punctuation; lower-case and collapse spaces."""
    previous = None
    while previous != line:
        previous = line
        line = _LABEL.sub("", line).strip().strip(_QUOTES).strip()
    line = line.rstrip(".!?;,:").strip().strip(_QUOTES).strip()
    return " ".join(line.lower().split())


class ReActAgent(Agent):
    name = "react"

    def example_turns(self, example: ExampleEpisode) -> list[tuple[str, str]]:
        turns = []
        for step in example.steps:
            if step.thought and self.cfg.thoughts:
                turns.append((f"think: {step.thought}", THINK_OK))
            turns.append((step.action, step.observation))
        return turns

    def parse(self, output: str) -> Parsed:
        """First non-empty line of the turn; never raises on any text."""
        text = self.turn_text(output)
        lines = [ln for ln in text.splitlines() if ln.strip()] or [ln for ln in output.splitlines() if ln.strip()]
        if not lines:
            return Parsed("", "invalid", text)
        line = lines[0]
        stripped = _LABEL.sub("", line.strip()).strip()
        think = _THINK.match(stripped)
        if think and self.cfg.thoughts:
            thought = " ".join(stripped[think.end():].split())
            return Parsed(f"think: {thought}", "think", text)
        command = clean_command(line)
        return Parsed(command, "act" if command else "invalid", text)
