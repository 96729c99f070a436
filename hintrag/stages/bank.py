"""`mode=bank`: print the hint bank of this config (counts per category and type, every hint with provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.artifacts import hint_bank
from hintrag.hints.hintbank import render


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    source, bank = hint_bank("bank", cfg, root)
    key = source.key
    print(f"hint bank {key}: {len(bank.hints)} hints")
    print(render(bank))
    return {"bank": key, "hints": len(bank.hints), "per_category": bank.summary()}
