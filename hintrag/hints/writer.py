"""Stage B's model side: the extraction prompt and the reading of its JSON answer.

Model output is messy. What can be repaired is repaired (code fences, prose around the JSON,
trailing commas and quotes via json_repair, a bare list instead of an object, type names in
another spelling, "You should ..." instead of an imperative); what cannot is rejected with a
counted reason, and the raw text is kept by the caller.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import json_repair
from rapidfuzz import fuzz, process

from hintrag.hints.hintbank import HINT_TYPES
from hintrag.llm.base import Message

HINTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "hints": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "type": {"type": "string", "enum": list(HINT_TYPES)}},
                "required": ["text", "type"],
            },
        }
    },
    "required": ["hints"],
}
# Openings that make a sentence a statement about someone rather than an instruction.
_NOT_IMPERATIVE = {"i", "we", "you", "the", "a", "an", "it", "this", "that", "agent", "he", "she", "they", "my",
                   "there", "task", "episode", "robot"}  # "You should X" is rewritten to "X" before this check
_SOFTENER = re.compile(r"^(?:you|the agent|agents?)\s+(?:should|must|need to|have to|ought to)\s+", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|hint\s*\d*\s*:)\s*", re.IGNORECASE)


@dataclass
class Parsed:
    """Accepted (text, type) pairs and why the rest was dropped or changed."""

    hints: list[tuple[str, str]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    repaired: Counter = field(default_factory=Counter)  # repair -> count
    error: str | None = None  # set when no JSON could be read at all


def extraction_messages(instruction: str, category: str, task: str, trace: str, low: int, high: int,
                        max_chars: int, example: Sequence[dict[str, str]]) -> list[Message]:
    """The request for one failed episode; the few-shot example of the agent is not in `trace`.

    The answer's shape is shown with `example` (hints of another domain, so that copying them
    is useless and is rejected); the request is repeated after the trace, where small models
    still attend to it.
    """
    ask = f"Write {low} to {high} rules for tasks of this kind as JSON."
    system = (
        f"{instruction}\n\nYou will read a failed attempt. Write between {low} and {high} short rules that would "
        f"have prevented this failure and that help on other tasks of the same kind. Each rule is one imperative "
        f"sentence of at most {max_chars} characters. Keep it general: write placeholders such as {{object}} and "
        f"{{receptacle}} instead of concrete names with numbers. Prefer preconditions and ordering over facts about "
        f"this one attempt. Give each rule a type, one of: {', '.join(HINT_TYPES)}.\n"
        f"Reply with JSON only, shaped like this answer for a different domain:\n"
        f"{json.dumps({'hints': [dict(h) for h in example]})}"
    )
    user = f"Task category: {category}\nTask: {task}\n\nFailed attempt:\n{trace}\n\n{ask}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _load(raw: str, repaired: Counter) -> Any:
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fence:
        text = fence.group(1).strip()
        repaired["code_fence"] += 1
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    if start > 0:
        repaired["leading_prose"] += 1
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except json.JSONDecodeError:
        value = json_repair.loads(text[start:])
        if value not in ("", None, [], {}):
            repaired["json_repair"] += 1
            return value
        return None


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("hints"), list):
            return data["hints"]
        lists = [v for v in data.values() if isinstance(v, list)]
        if lists:
            return lists[0]
        if "text" in data or "hint" in data:
            return [data]
    return None


def _hint_type(value: Any, repaired: Counter) -> str:
    name = re.sub(r"[\s_]+", "-", str(value or "").strip().lower())
    if name in HINT_TYPES:
        return name
    match = process.extractOne(name, HINT_TYPES, scorer=fuzz.ratio, score_cutoff=70) if name else None
    repaired["type_mapped" if match else "type_defaulted"] += 1
    return match[0] if match else "best-practice"


def _clean_text(value: Any, repaired: Counter) -> str:
    text = " ".join(str(value or "").split()).strip().strip("\"'")
    text = _BULLET.sub("", text)
    softened = _SOFTENER.sub("", text)
    if softened != text and softened:
        repaired["made_imperative"] += 1
        text = softened[0].upper() + softened[1:]
    return text


def _copied(text: str, example: Sequence[str]) -> bool:
    """A near-copy of an example text, or of its beginning: a small writer's answer cut off by its
    token budget ("Taste {dish} again after adding {") is a copy too."""
    text = text.lower()
    return any(fuzz.ratio(text, e) >= 85 or fuzz.ratio(text, e[:len(text)]) >= 85 for e in map(str.lower, example))


def parse_hints(raw: str, max_hints: int, max_chars: int, example: Sequence[str] = (),
                cut_chars: int | None = None) -> Parsed:
    """Read the model's answer into at most `max_hints` valid hints, counting every rejection.

    `example` holds the texts of the prompt's format example: a near-copy of one carries nothing
    from the failure and is rejected as `copied_example`. With `cut_chars` no hint is rejected for
    its length: a longer one is cut to that many characters, as the authors' code did (240)."""
    out = Parsed()
    items = _items(_load(raw, out.repaired))
    if items is None:
        out.error = "unparseable"
        return out
    for item in items:
        fields = item if isinstance(item, dict) else {"text": item}
        text = _clean_text(fields.get("text") or fields.get("hint") or fields.get("rule"), out.repaired)
        if cut_chars is not None and len(text) > cut_chars:
            text, out.repaired["cut"] = text[:cut_chars].rstrip(), out.repaired["cut"] + 1
        first = text.split(" ", 1)[0].lower().strip(",.:;") if text else ""
        if not text:
            out.rejected["empty"] += 1
        elif len(text) > max_chars and cut_chars is None:
            out.rejected["too_long"] += 1
        elif first in _NOT_IMPERATIVE or not first.isalpha():
            out.rejected["not_imperative"] += 1
        elif _copied(text, example):
            out.rejected["copied_example"] += 1
        elif len(out.hints) >= max_hints:
            out.rejected["too_many"] += 1
        else:
            out.hints.append((text, _hint_type(fields.get("type"), out.repaired)))
    if not items:
        out.rejected["no_hints"] += 1
    return out


def trace_text(initial_observation: str, steps: Sequence[dict[str, Any]]) -> str:
    """The failed episode as a transcript: the task observation, then `> action` / observation lines."""
    lines = [initial_observation]
    for step in steps:
        lines.append(f"> {step['action'] or step['output'].strip()}")
        lines.append(step["observation"])
    return "\n".join(lines)
