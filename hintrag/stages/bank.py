"""`mode=bank`: print the hint bank of this config (counts per category and type, every hint with provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag.hints.bank import render, upstream_bank
from hintrag.stagespec import Link, StageSpec, no_exclude, register

SPEC = register(StageSpec(
    name="bank",
    describe=lambda cfg: "the hint bank, printed",
    keys=(),  # writes no run of its own
    exclude=no_exclude,
    upstream=lambda cfg: [Link("extract")],
    name_parts=lambda cfg: [cfg.env.name, cfg.agent.name, cfg.model.name, cfg.extractor.name],
))


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    key, bank = upstream_bank("bank", cfg, root)
    print(f"hint bank {key}: {len(bank.hints)} hints")
    print(render(bank))
    return {"bank": key, "hints": len(bank.hints), "per_category": bank.summary()}
