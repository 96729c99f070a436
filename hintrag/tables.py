"""The paper's comparison from cells of runs: which run fills a cell, the tables, Figure 3.

Every number is recomputed from a cell's trajectories over the same first-N episode ids of the
split, so cells compare like with like; a run missing some of those episodes is marked incomplete
(its numbers cover what it has) instead of being mixed in silently. Which runs make the cells is
the report stage's business (hintrag/stages/report.py, by signature).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hintrag import stats

REGIMES = ("Reference", "Base", "RAG", "SFT", "Distill")  # Reference: the env's trivial policy (no model)
# The paired differences a reader of the method asks for, on the lead column: (row, minus row).
PAIRS = (("Distill", "Base"), ("Distill", "SFT"), ("RAG", "Base"), ("SFT", "Base"), ("Base", "Reference"))
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
    records: Sequence[dict[str, Any]] = ()  # its episodes of the table, in the split's order (for intervals)

    @property
    def complete(self) -> bool:
        return self.done == self.expected


def pick(cells: Sequence[Cell], regime: str, agent: str, k: int | None = None) -> Cell | None:
    """The cell's run by PICK_RULE; for RAG, of the given k."""
    found = [c for c in cells if c.regime == regime and c.agent == agent and (regime != "RAG" or c.k == k)]
    return max(found, key=lambda c: (c.exact, c.done, c.finished, c.run)) if found else None


# Per-episode value of each column; success is a rate (Wilson), the others means (bootstrap).
PER_EPISODE = {
    "success": lambda r: 100.0 * float(r["success"]), "score": lambda r: 100.0 * r["reward"],
    "steps": lambda r: float(r["steps"]), "tokens": lambda r: r["total_tokens"] / 1000,
}


def estimate(cell: Cell, column: str) -> stats.Interval:
    """The column's value for a cell with its 95% interval."""
    if column == "success":
        return stats.wilson(sum(bool(r["success"]) for r in cell.records), len(cell.records)).scaled(100)
    return stats.bootstrap_mean([PER_EPISODE[column](r) for r in cell.records])


def difference(cell: Cell, base: Cell, column: str) -> tuple[stats.Interval, int]:
    """The cell minus `base` on the episodes both played (paired bootstrap), and how many those are."""
    theirs = {r["episode_id"]: r for r in base.records}
    pairs = [(PER_EPISODE[column](r), PER_EPISODE[column](theirs[r["episode_id"]]))
             for r in cell.records if r["episode_id"] in theirs]
    return stats.paired_difference([a for a, _ in pairs], [b for _, b in pairs]), len(pairs)


def _interval(value: stats.Interval, sign: bool = False, unit: str = "") -> str:
    head = f"{value.value:+.2f}" if sign else f"{value.value:.2f}"
    return f"{head}{unit} [{value.low:.1f}, {value.high:.1f}]"


def _value(cell: Cell, column: str) -> str:
    text = _interval(estimate(cell, column), unit="k" if column == "tokens" else "")
    return text if cell.complete else f"{text}*"


def _delta(cell: Cell | None, base: Cell | None, column: str) -> str:
    if cell is None or base is None or cell is base:
        return "-"
    value, n = difference(cell, base, column)
    return _interval(value, sign=True) if n else "-"


def columns(scored: bool) -> list[str]:
    return ["score", "success", "steps", "tokens"] if scored else ["success", "steps", "tokens"]


def lead(scored: bool) -> str:
    """The column a regime is compared with Base on: score where envs grade, else success."""
    return "score" if scored else "success"


def main_table(cells: Sequence[Cell], agents: Sequence[str], k: int, scored: bool) -> list[list[str]]:
    """One row per regime; per agent its columns with 95% intervals and the paired difference
    against Base on the lead column."""
    cols = columns(scored)
    header = ["regime"] + [h for a in agents for h in [f"{a} {c}" for c in cols] + [f"{a} Δ{lead(scored)} vs Base"]]
    rows = [header]
    for regime in REGIMES:
        row = [regime]
        for agent in agents:
            cell = pick(cells, regime, agent, k)
            row += [_value(cell, c) if cell else "-" for c in cols]
            row.append(_delta(cell, pick(cells, "Base", agent), lead(scored)))
        rows.append(row)
    return rows


def pairs_table(cells: Sequence[Cell], agents: Sequence[str], k: int, scored: bool) -> list[list[str]]:
    """PAIRS on the lead column, per agent: the difference with its paired 95% interval and the
    number of episodes both rows played ("-" where either row has no run)."""
    metric = lead(scored)
    rows = [["difference"] + [f"{a} Δ{metric} [95%]" for a in agents] + [f"{a} episodes" for a in agents]]
    for first, second in PAIRS:
        values, counts = [], []
        for agent in agents:
            a, b = pick(cells, first, agent, k), pick(cells, second, agent, k)
            value, n = difference(a, b, metric) if a is not None and b is not None else (None, 0)
            values.append(_interval(value, sign=True) if n else "-")
            counts.append(str(n) if n else "-")
        rows.append([f"{first} - {second}"] + values + counts)
    return rows


def long_rows(cells: Sequence[Cell], agents: Sequence[str], k: int, scored: bool) -> list[list[Any]]:
    """table.csv: one line per regime, agent and measure, numbers unformatted, for plotting elsewhere."""
    rows: list[list[Any]] = [["regime", "agent", "measure", "value", "low95", "high95", "episodes", "complete", "run"]]
    for agent in agents:
        base = pick(cells, "Base", agent)
        for regime in REGIMES:
            if (cell := pick(cells, regime, agent, k)) is None:
                continue
            for column in columns(scored):
                e = estimate(cell, column)
                rows.append([regime, agent, column, round(e.value, 4), round(e.low, 4), round(e.high, 4),
                             cell.done, cell.complete, cell.run])
            if base is not None and cell is not base:
                d, n = difference(cell, base, lead(scored))
                rows.append([regime, agent, f"{lead(scored)}_minus_base", round(d.value, 4), round(d.low, 4),
                             round(d.high, 4), n, cell.complete, cell.run])
    return rows


def caution(n: int) -> str:
    """What the intervals mean at this size, said in the table (a 4-episode rate means little)."""
    widest = stats.wilson(n // 2, n).scaled(100) if n else stats.Interval(0, 0, 100)
    text = (f"Brackets: 95% intervals (Wilson for success rates, bootstrap over episodes for means; Δ: paired "
            f"bootstrap against Base on the same episodes). With {n} episodes a success rate's interval is up to "
            f"{widest.high - widest.low:.0f} points wide")
    return text + (": too few episodes to tell regimes apart; read these numbers as a smoke test.\n"
                   if n < 30 else "; a Δ whose interval contains 0 is no evidence of a difference.\n")


def k_table(cells: Sequence[Cell], agents: Sequence[str], scored: bool) -> list[list[str]]:
    ks = sorted({c.k for c in cells if c.regime == "RAG" and c.k is not None})
    metric = lead(scored)
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
    """Accuracy against tokens per episode, one marker per regime, one colour per agent, 95% intervals
    as error bars on both axes (PNG and SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"Reference": "X", "Base": "o", "RAG": "s", "SFT": "^", "Distill": "*"}
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for index, agent in enumerate(agents):
        for regime in REGIMES:
            cell = pick(cells, regime, agent, k)
            if cell is None:
                continue
            y, x = estimate(cell, lead(scored)), estimate(cell, "tokens")
            ax.errorbar([x.value], [y.value], yerr=[[y.value - y.low], [y.high - y.value]],
                        xerr=[[x.value - x.low], [x.high - x.value]], fmt="none", ecolor=f"C{index}", alpha=0.5,
                        capsize=3, lw=1)
            ax.scatter([x.value], [y.value], marker=markers[regime], s=90, color=f"C{index}",
                       facecolors="none" if not cell.complete else f"C{index}", label=f"{agent} {regime}")
            x, y = x.value, y.value
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
