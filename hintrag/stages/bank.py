"""`mode=bank`: print the hint bank of this config (counts per category and type, every hint with provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.hints.bank import render
from hintrag.stages.teacher import load_bank


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    key, bank = load_bank(cfg, root)
    print(f"hint bank {key}: {len(bank.hints)} hints")
    print(render(bank))
    return {"bank": key, "hints": len(bank.hints), "per_category": bank.summary()}
