"""`mode=report`: the paper's tables and Figure 3 for this config's env, split, model and agents.

Its upstream links (hintrag.stagegraph.report_links) name the run behind each regime; the report
finds those runs by signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag import report
from hintrag.envs import make_suite
from hintrag.play import select_episodes
from hintrag.files import atomic_write_text
from hintrag.store import open_run, signature, upstream


def scan(cfg: DictConfig, root: Path, ids: list[str]) -> list[report.Cell]:
    """Cells of every run this config's report links to; RAG at every k for the k table."""
    agents = list(cfg.report.agents)
    cells = []
    for link, up in upstream("report", cfg):
        free = ("teacher.k",) if link.stage == "teacher" else ()
        cells += report.cells_for(root, link.label, signature(link.stage, up), agents, ids, free)
    return cells


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    suite = make_suite(cfg.env)
    ids = [s.id for s in select_episodes(suite, cfg.split, cfg.n_episodes)]
    agents = list(cfg.report.agents)
    k = int(cfg.teacher.k)
    cells = scan(cfg, root, ids)
    out = open_run("report", cfg, root)
    main = report.main_table(cells, agents, k, suite.scored)
    ks = report.k_table(cells, agents, suite.scored)
    title = f"{cfg.env.name} {cfg.split}, {len(ids)} episodes, {cfg.model.name}"
    note = "\n`*` = incomplete run: fewer than the requested episodes; its numbers cover what it has.\n"
    runs = "".join(f"- {c.regime} {c.agent}{f' k={c.k}' if c.k else ''}: `{c.run}` ({c.done}/{c.expected})\n"
                   for c in cells)
    pairs = report.pairs_table(cells, agents, k, suite.scored)
    text = (f"# {title}\n\nTokens per episode include retrieval. RAG uses k={k}, "
            f"retrieval={cfg.retrieval.name}. Reference: {suite.reference_policy} (no model).\n\n"
            f"{report.markdown(main)}\n{report.caution(len(ids))}"
            f"\n## Paired differences\n\n{report.markdown(pairs)}"
            f"\n## k\n\n{report.markdown(ks)}{note}\n"
            f"## Runs\n\nRuns are matched by signature; {report.PICK_RULE}.\n\n{runs or '(none found)'}")
    atomic_write_text(out.path / "table.md", text)
    atomic_write_text(out.path / "table.csv", report.to_csv(report.long_rows(cells, agents, k, suite.scored)))
    atomic_write_text(out.path / "k_table.csv", report.to_csv(ks))
    report.figure3(cells, agents, k, suite.scored, out.path / "figure3", title)
    print(text)
    print(f"report: {len(cells)} runs; figure: {out.path / 'figure3.png'} (and .svg)")
    return {"run": str(out.path), "runs_found": len(cells), "incomplete": sum(not c.complete for c in cells),
            "figure": str(out.path / "figure3.png")}
