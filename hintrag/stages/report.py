"""`mode=report`: the paper's tables and Figure 3 for this config's env, split, model and agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hintrag import report
from hintrag.envs import make_suite
from hintrag.stages.rollout import select_episodes
from hintrag.store import atomic_write_text, open_run


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    ids = [s.id for s in select_episodes(make_suite(cfg.env), cfg.split, cfg.n_episodes)]
    agents = list(cfg.report.agents)
    webshop = cfg.env.name == "webshop"
    cells = report.scan(root, cfg, ids)
    out = open_run("report", cfg, root)
    main = report.main_table(cells, agents, int(cfg.k), webshop)
    ks = report.k_table(cells, agents, webshop)
    title = f"{cfg.env.name} {cfg.split}, {len(ids)} episodes, {cfg.model.name}"
    note = "\n`*` = incomplete run: fewer than the requested episodes; its numbers cover what it has.\n"
    runs = "".join(f"- {c.regime} {c.agent}{f' k={c.k}' if c.k else ''}: `{c.run}` ({c.done}/{c.expected})\n"
                   for c in cells)
    text = (f"# {title}\n\nTokens per episode include retrieval. RAG uses k={cfg.k}, "
            f"retrieval={cfg.retrieval.name}.\n\n{report.markdown(main)}\n## k\n\n{report.markdown(ks)}{note}\n"
            f"## Runs\n\n{runs or '(none found)'}")
    atomic_write_text(out.path / "table.md", text)
    atomic_write_text(out.path / "table.csv", report.to_csv(main))
    atomic_write_text(out.path / "k_table.csv", report.to_csv(ks))
    report.figure3(cells, agents, int(cfg.k), webshop, out.path / "figure3", title)
    print(text)
    print(f"report: {len(cells)} runs; figure: {out.path / 'figure3.png'} (and .svg)")
    return {"run": str(out.path), "runs_found": len(cells), "incomplete": sum(not c.complete for c in cells),
            "figure": str(out.path / "figure3.png")}
