"""The hint bank: deduplicated hints per category, each with its provenance.

Dedup is greedy in proposal order: a candidate whose rapidfuzz similarity to an already kept hint
of the same category is above the threshold is absorbed by it (the kept hint records the extra
source episode), otherwise it is kept. Proposal order is episode order, so the bank built from
the same proposals is always the same, ids included.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from rapidfuzz import fuzz, process

from hintrag.files import atomic_write_json

HINT_TYPES = ("precondition", "affordance", "ordering", "failure-pattern", "best-practice", "goal-clarification")


@dataclass
class Candidate:
    """A hint as proposed for one failed episode, before dedup."""

    text: str
    type: str
    category: str
    episode_id: str


@dataclass
class Hint:
    id: str
    text: str
    type: str
    category: str
    sources: list[str] = field(default_factory=list)  # failed episodes that produced it or a near-duplicate
    extractor: str = ""
    absorbed: int = 0  # near-duplicates merged into this hint


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def deduplicate(candidates: Iterable[Candidate], threshold: float, extractor: str) -> list[Hint]:
    """Greedy per-category dedup; similarity is rapidfuzz's normalised ratio in [0, 1]."""
    kept: dict[str, list[Hint]] = defaultdict(list)
    keys: dict[str, list[str]] = defaultdict(list)
    for cand in candidates:
        key = normalise(cand.text)
        match = process.extractOne(key, keys[cand.category], scorer=fuzz.ratio) if keys[cand.category] else None
        if match is not None and match[1] / 100.0 > threshold:
            hint = kept[cand.category][match[2]]
            hint.absorbed += 1
            if cand.episode_id not in hint.sources:
                hint.sources.append(cand.episode_id)
            continue
        hint_id = f"{cand.category}-{len(kept[cand.category]):04d}"
        kept[cand.category].append(Hint(hint_id, cand.text, cand.type, cand.category, [cand.episode_id], extractor))
        keys[cand.category].append(key)
    return [h for cat in sorted(kept) for h in kept[cat]]


@dataclass
class Bank:
    hints: list[Hint]

    def by_category(self, category: str) -> list[Hint]:
        return [h for h in self.hints if h.category == category]

    def get(self, hint_id: str) -> Hint:
        return next(h for h in self.hints if h.id == hint_id)

    def save(self, path: Path) -> None:
        atomic_write_json(path, {"hints": [asdict(h) for h in self.hints]})

    @classmethod
    def load(cls, path: Path) -> "Bank":
        return cls([Hint(**h) for h in json.loads(path.read_text())["hints"]])

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per category and per type."""
        out: dict[str, dict[str, int]] = {}
        for cat in sorted({h.category for h in self.hints}):
            out[cat] = dict(sorted(Counter(h.type for h in self.by_category(cat)).items()))
        return out


def render(bank: Bank, categories: Sequence[str] | None = None) -> str:
    """A plain-text view of a bank: counts, then every hint with its provenance."""
    lines = []
    for cat, types in bank.summary().items():
        if categories and cat not in categories:
            continue
        hints = bank.by_category(cat)
        lines.append(f"{cat}: {len(hints)} hints ({', '.join(f'{t} {n}' for t, n in types.items())})")
        for h in hints:
            lines.append(f"  [{h.id}] ({h.type}) {h.text}")
            lines.append(f"      from {len(h.sources)} episode(s), absorbed {h.absorbed}, by {h.extractor}: "
                         f"{', '.join(h.sources[:3])}{' ...' if len(h.sources) > 3 else ''}")
    return "\n".join(lines) if lines else "(empty bank)"
