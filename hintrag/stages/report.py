"""`mode=report`: the paper's tables and Figure 3 for this config's env, split, model and agents.

Its upstream links (hintrag.stagegraph.report_links) name the run behind each regime. Runs are
matched through the signature each saved (signature.json: its config values and its whole upstream
chain, so a RAG cell has this config's k and bank, a student this config's recipe), never by
folder name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig

from hintrag import tables
from hintrag.envs import make_suite
from hintrag.files import atomic_write_text
from hintrag.metrics import episode_metrics
from hintrag.play import select_episodes
from hintrag.stagegraph import TRAJECTORIES
from hintrag.stagespec import is_excluded
from hintrag.store import SCHEMA, Run, open_run, signature, unique_by, upstream


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
              free: Sequence[str] = ()) -> list[tables.Cell]:
    """Runs whose signature is `wanted` with the agent (and the `free` prefixes) set aside, for `agents`.
    A run of a stage that plays no agent (the reference policy) fills the cell of every agent."""
    loose = strip(wanted, ("agent", *free))
    cells = []
    for folder, sig in signatures(root, wanted["stage"]):
        agent = sig["values"].get("agent.name")
        if (agent is not None and agent not in agents) or strip(sig, ("agent", *free)) != loose:
            continue
        records = unique_by(Run(sig["stage"], folder.name, folder).records(TRAJECTORIES), "episode_id")
        done = [records[i] for i in ids if i in records]
        if done:
            k = sig["values"].get("teacher.k")
            cells += [tables.Cell(regime, name, k, folder.name, len(done), len(ids), episode_metrics(done),
                                  exact=strip(sig, free) == strip(wanted, free), finished=_finished(folder),
                                  records=done)
                      for name in ([agent] if agent is not None else agents)]
    return cells


def scan(cfg: DictConfig, root: Path, ids: list[str]) -> list[tables.Cell]:
    """Cells of every run this config's report links to; RAG at every k for the k table."""
    agents = list(cfg.report.agents)
    cells = []
    for link, up in upstream("report", cfg):
        free = ("teacher.k",) if link.stage == "teacher" else ()
        cells += cells_for(root, link.label, signature(link.stage, up), agents, ids, free)
    return cells


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    suite = make_suite(cfg.env)
    ids = [s.id for s in select_episodes(suite, cfg.split, cfg.n_episodes)]
    agents = list(cfg.report.agents)
    k = int(cfg.teacher.k)
    cells = scan(cfg, root, ids)
    out = open_run("report", cfg, root)
    main = tables.main_table(cells, agents, k, suite.scored)
    ks = tables.k_table(cells, agents, suite.scored)
    title = f"{cfg.env.name} {cfg.split}, {len(ids)} episodes, {cfg.model.name}"
    note = "\n`*` = incomplete run: fewer than the requested episodes; its numbers cover what it has.\n"
    runs = "".join(f"- {c.regime} {c.agent}{f' k={c.k}' if c.k else ''}: `{c.run}` ({c.done}/{c.expected})\n"
                   for c in cells)
    pairs = tables.pairs_table(cells, agents, k, suite.scored)
    text = (f"# {title}\n\nTokens per episode include retrieval. RAG uses k={k}, "
            f"retrieval={cfg.retrieval.name}. Reference: {suite.reference_policy} (no model).\n\n"
            f"{tables.markdown(main)}\n{tables.caution(len(ids))}"
            f"\n## Paired differences\n\n{tables.markdown(pairs)}"
            f"\n## k\n\n{tables.markdown(ks)}{note}\n"
            f"## Runs\n\nRuns are matched by signature; {tables.PICK_RULE}.\n\n{runs or '(none found)'}")
    atomic_write_text(out.path / "table.md", text)
    atomic_write_text(out.path / "table.csv", tables.to_csv(tables.long_rows(cells, agents, k, suite.scored)))
    atomic_write_text(out.path / "k_table.csv", tables.to_csv(ks))
    tables.figure3(cells, agents, k, suite.scored, out.path / "figure3", title)
    print(text)
    print(f"report: {len(cells)} runs; figure: {out.path / 'figure3.png'} (and .svg)")
    return {"run": str(out.path), "runs_found": len(cells), "incomplete": sum(not c.complete for c in cells),
            "figure": str(out.path / "figure3.png")}
