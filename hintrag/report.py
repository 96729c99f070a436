"""The paper's comparison from the run store: which runs fill which cell, the tables, Figure 3.

Runs are matched through the signature each saved (signature.json: its config values and its whole
upstream chain, so a RAG cell has this config's k and bank, a student this config's recipe), never
by folder name. Every number is recomputed from trajectories over the same first-N episode ids of
the split, so cells compare like with like; a run missing some of those episodes is marked
incomplete (its numbers cover what it has) instead of being mixed in silently.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hintrag.metrics import episode_metrics
from hintrag.play import TRAJECTORIES
from hintrag.stagespec import is_excluded
from hintrag.store import SCHEMA, Run, unique_by

REGIMES = ("Base", "RAG", "SFT", "Distill")
PICK_RULE = ("among runs with the same signature (agent aside for other agents' columns), the one whose "
             "signature equals this config's first, then the one with the most of the episodes, then the newest "
             "finished (latest metrics write)")


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
    exact: bool = True  # its signature equals the one this config gives (not only agent aside)
    finished: float = 0.0  # when it last wrote its metrics (seconds since the epoch)

    @property
    def complete(self) -> bool:
        return self.done == self.expected


def strip(sig: dict[str, Any], drop: Sequence[str]) -> dict[str, Any]:
    """A signature without the values under `drop` prefixes, in its upstream chain too."""
    values = {k: v for k, v in sig["values"].items() if not is_excluded(k, {p: "" for p in drop})}
    return {**sig, "values": values, "upstream": [strip(up, drop) for up in sig["upstream"]]}


def signatures(root: Path, stage: str) -> list[tuple[Path, dict[str, Any]]]:
    """Every run of `stage` in the store with the signature it saved (current schema only)."""
    found = []
    for folder in sorted((root / stage).glob("*/")) if (root / stage).is_dir() else []:
        file = folder / "signature.json"
        if file.is_file() and (sig := json.loads(file.read_text())).get("schema") == SCHEMA:
            found.append((folder, sig))
    return found


def _finished(folder: Path) -> float:
    return max((f.stat().st_mtime for f in folder.glob("metrics*.json")), default=0.0)


def cells_for(root: Path, regime: str, wanted: dict[str, Any], agents: Sequence[str], ids: Sequence[str],
              free: Sequence[str] = ()) -> list[Cell]:
    """Runs whose signature is `wanted` with the agent (and the `free` prefixes) set aside, for `agents`."""
    loose = strip(wanted, ("agent", *free))
    cells = []
    for folder, sig in signatures(root, wanted["stage"]):
        agent = sig["values"].get("agent.name")
        if agent not in agents or strip(sig, ("agent", *free)) != loose:
            continue
        records = unique_by(Run(sig["stage"], folder.name, folder).records(TRAJECTORIES), "episode_id")
        done = [records[i] for i in ids if i in records]
        if done:
            k = sig["values"].get("teacher.k")
            cells.append(Cell(regime, agent, k, folder.name, len(done), len(ids), episode_metrics(done),
                              exact=strip(sig, free) == strip(wanted, free), finished=_finished(folder)))
    return cells


def pick(cells: Sequence[Cell], regime: str, agent: str, k: int | None = None) -> Cell | None:
    """The cell's run by PICK_RULE; for RAG, of the given k."""
    found = [c for c in cells if c.regime == regime and c.agent == agent and (regime != "RAG" or c.k == k)]
    return max(found, key=lambda c: (c.exact, c.done, c.finished, c.run)) if found else None


def _value(cell: Cell, column: str) -> str:
    m = cell.metrics
    text = {
        "success": f"{100 * m['success_rate']:.2f}", "score": f"{m['score']:.2f}",
        "steps": f"{m['mean_steps']:.2f}", "tokens": f"{m['mean_total_tokens'] / 1000:.2f}k",
    }[column]
    return text if cell.complete else f"{text}*"


def columns(scored: bool) -> list[str]:
    return ["score", "success", "steps", "tokens"] if scored else ["success", "steps", "tokens"]


def main_table(cells: Sequence[Cell], agents: Sequence[str], k: int, scored: bool) -> list[list[str]]:
    cols = columns(scored)
    header = ["regime"] + [f"{a} {c}" for a in agents for c in cols]
    rows = [header]
    for regime in REGIMES:
        row = [regime]
        for agent in agents:
            cell = pick(cells, regime, agent, k)
            row += [_value(cell, c) if cell else "-" for c in cols]
        rows.append(row)
    return rows


def k_table(cells: Sequence[Cell], agents: Sequence[str], scored: bool) -> list[list[str]]:
    ks = sorted({c.k for c in cells if c.regime == "RAG" and c.k is not None})
    metric = "score" if scored else "success"
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


def figure3(cells: Sequence[Cell], agents: Sequence[str], k: int, scored: bool, path: Path, title: str) -> None:
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
            y = cell.metrics["score"] if scored else 100 * cell.metrics["success_rate"]
            x = cell.metrics["mean_total_tokens"] / 1000
            ax.scatter([x], [y], marker=markers[regime], s=90, color=f"C{index}",
                       facecolors="none" if not cell.complete else f"C{index}", label=f"{agent} {regime}")
            ax.annotate(regime, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("tokens per episode (thousands, retrieval included)")
    ax.set_ylabel("score" if scored else "success rate (%)")
    ax.set_ylim(-2, 102)  # both are percentages; a fixed axis keeps figures of different runs comparable
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.collections:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=150)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
