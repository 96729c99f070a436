"""The paper's comparison from the run store: which runs fill which cell, the tables, Figure 3.

Every number is recomputed from trajectories over the same first-N episode ids of the split, so
cells compare like with like; a run missing some of those episodes is marked incomplete (its
numbers cover what it has) instead of being mixed in silently.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

from hintrag.metrics import episode_metrics
from hintrag.store import Run, unique_by

REGIMES = ("Base", "RAG", "SFT", "Distill")


@dataclass
class Cell:
    """One run's numbers for a table cell."""

    regime: str
    agent: str
    k: int | None
    run: str
    done: int
    expected: int
    metrics: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.done == self.expected


def regime_of(stage: str, run_cfg: DictConfig) -> str | None:
    if stage == "rollout":
        return "Base"
    if stage == "teacher":
        return "RAG"
    if stage == "eval" and run_cfg.eval.student:
        return "Distill" if run_cfg.train.regime == "distill" else "SFT"
    return None


def matches(run_cfg: DictConfig, cfg: DictConfig, stage: str) -> bool:
    """Same env, split, model, seed, step limits; a teacher also needs the same retrieval."""
    same = all(OmegaConf.select(run_cfg, key) == OmegaConf.select(cfg, key)
               for key in ("env.name", "split", "model.name", "seed", "max_steps", "env.max_repeats"))
    if stage == "teacher":
        same = same and run_cfg.retrieval.name == cfg.retrieval.name
    if stage == "eval":
        same = same and run_cfg.lora_rank == cfg.lora_rank
    return same and run_cfg.agent.name in cfg.report.agents


def cell_for(stage: str, folder: Path, run_cfg: DictConfig, ids: Sequence[str]) -> Cell | None:
    regime = regime_of(stage, run_cfg)
    if regime is None:
        return None
    records = unique_by(Run(stage, folder.name, folder).records("trajectories.jsonl"), "episode_id")
    wanted = [records[i] for i in ids if i in records]
    return Cell(regime, run_cfg.agent.name, int(run_cfg.k) if stage == "teacher" else None, folder.name,
                len(wanted), len(ids), episode_metrics(wanted))


def scan(root: Path, cfg: DictConfig, ids: Sequence[str]) -> list[Cell]:
    cells = []
    for stage in ("rollout", "teacher", "eval"):
        for folder in sorted((root / stage).glob("*/")) if (root / stage).is_dir() else []:
            if not (folder / "config.yaml").is_file():
                continue
            run_cfg = OmegaConf.load(folder / "config.yaml")
            if matches(run_cfg, cfg, stage):
                cell = cell_for(stage, folder, run_cfg, ids)
                if cell is not None and cell.done:
                    cells.append(cell)
    return cells


def _value(cell: Cell, column: str) -> str:
    m = cell.metrics
    text = {
        "success": f"{100 * m['success_rate']:.2f}", "score": f"{m['score']:.2f}",
        "steps": f"{m['mean_steps']:.2f}", "tokens": f"{m['mean_total_tokens'] / 1000:.2f}k",
    }[column]
    return text if cell.complete else f"{text}*"


def columns(webshop: bool) -> list[str]:
    return ["score", "success", "steps", "tokens"] if webshop else ["success", "steps", "tokens"]


def pick(cells: Sequence[Cell], regime: str, agent: str, k: int) -> Cell | None:
    """The cell's run: for RAG the configured k; the most complete run first, then the newest name."""
    found = [c for c in cells if c.regime == regime and c.agent == agent and (regime != "RAG" or c.k == k)]
    return max(found, key=lambda c: (c.done, c.run)) if found else None


def main_table(cells: Sequence[Cell], agents: Sequence[str], k: int, webshop: bool) -> list[list[str]]:
    cols = columns(webshop)
    header = ["regime"] + [f"{a} {c}" for a in agents for c in cols]
    rows = [header]
    for regime in REGIMES:
        row = [regime]
        for agent in agents:
            cell = pick(cells, regime, agent, k)
            row += [_value(cell, c) if cell else "-" for c in cols]
        rows.append(row)
    return rows


def k_table(cells: Sequence[Cell], agents: Sequence[str], webshop: bool) -> list[list[str]]:
    ks = sorted({c.k for c in cells if c.regime == "RAG" and c.k is not None})
    metric = "score" if webshop else "success"
    rows = [["agent"] + [f"k={k}" for k in ks]]
    for agent in agents:
        rows.append([agent] + [_value(cell, metric) if (cell := pick(cells, "RAG", agent, k)) else "-"
                               for k in ks])
    return rows


def markdown(rows: Sequence[Sequence[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"


def to_csv(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def figure3(cells: Sequence[Cell], agents: Sequence[str], k: int, webshop: bool, path: Path, title: str) -> None:
    """Accuracy against tokens per episode, one marker per regime, one colour per agent (PNG and SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"Base": "o", "RAG": "s", "SFT": "^", "Distill": "*"}
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for index, agent in enumerate(agents):
        for regime in REGIMES:
            cell = pick(cells, regime, agent, k)
            if cell is None:
                continue
            y = cell.metrics["score"] if webshop else 100 * cell.metrics["success_rate"]
            x = cell.metrics["mean_total_tokens"] / 1000
            ax.scatter([x], [y], marker=markers[regime], s=90, color=f"C{index}",
                       facecolors="none" if not cell.complete else f"C{index}", label=f"{agent} {regime}")
            ax.annotate(regime, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("tokens per episode (thousands, retrieval included)")
    ax.set_ylabel("score" if webshop else "success rate (%)")
    ax.set_ylim(-2, 102)  # both are percentages; a fixed axis keeps figures of different runs comparable
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.collections:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=150)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
