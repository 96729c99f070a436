"""Experiment tracking (`logger=wandb` or `logger=none`).

Each stage is one W&B run, grouped by experiment and tagged by stage, env, agent, model and k.
It logs the config (secret-looking keys removed), the stage's metrics, its trajectory table
(episode, task type, success, steps, tokens, and where the full trace lives), the hint bank,
the report's figure (the artifacts each stage declares), and trl's own training curves (the
trainer logs into the active run).
Offline by default: runs are written under the store and synced later with `wandb sync`.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from hintrag import stagegraph

_SECRET = re.compile(r"(api_?key|token|secret|password)$", re.IGNORECASE)


def public_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without values under secret-looking keys (names of env variables stay)."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not _SECRET.search(str(k))}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return clean(OmegaConf.to_container(cfg, resolve=True))


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}/{k}" if prefix else str(k), v, out)
    elif isinstance(value, (int, float)):  # bools included
        out[prefix] = value
    return out


class NoTracker:
    @contextmanager
    def stage(self, mode: str, cfg: DictConfig) -> Iterator[None]:
        yield

    def log_summary(self, summary: dict[str, Any]) -> None:
        """Nothing is tracked with logger=none."""


class WandbTracker:
    def __init__(self, cfg: DictConfig, root: Path) -> None:
        self.cfg = cfg
        os.environ.setdefault("WANDB_MODE", str(cfg.logger.mode))
        os.environ.setdefault("WANDB_SILENT", "true")
        self.dir = Path(cfg.logger.dir) if cfg.logger.dir else root
        self.run: Any = None
        self.artifacts: dict[str, str] = {}  # kind -> file, as the running stage declares them

    def tags(self, mode: str, cfg: DictConfig) -> list[str]:
        """Stage, env, agent and model, then the readable parts of the run folder's name (split, seed, k, ...)."""
        named = [f"stage:{mode}", f"env:{cfg.env.name}", f"agent:{cfg.agent.name}", f"model:{cfg.model.name}"]
        return named + [str(p) for p in stagegraph.get(mode).name_parts(cfg)]

    @contextmanager
    def stage(self, mode: str, cfg: DictConfig) -> Iterator[None]:
        import wandb

        self.dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=str(cfg.logger.project), group=str(cfg.logger.group), job_type=mode, tags=self.tags(mode, cfg),
            config=public_config(cfg), dir=str(self.dir), reinit="finish_previous",
        )
        self.artifacts = dict(stagegraph.get(mode).artifacts)
        try:
            yield
        finally:
            self.run.finish()
            self.run = None

    def _files(self, folder: Path, kind: str) -> list[Path]:
        """The files of one artifact kind the running stage declares (a name or a glob), as found."""
        pattern = self.artifacts.get(kind)
        return sorted(folder.glob(pattern)) if pattern else []

    def log_summary(self, summary: dict[str, Any]) -> None:
        """Metrics, then whatever the stage's folder holds: trajectories, a bank, a figure."""
        import wandb

        metrics = _flat("", {k: v for k, v in summary.items() if k != "run"}, {})
        self.run.log(metrics)
        self.run.summary.update(metrics)
        folder = Path(summary["run"]) if summary.get("run") else None
        if folder is None:
            return
        files = self._files(folder, "trajectories")
        if files:
            rows = []
            for trajectories in files:  # one file per shard when sharded
                for line_no, line in enumerate(trajectories.read_text().splitlines(), start=1):
                    rec = json.loads(line)
                    rows.append([rec["episode_id"], rec["category"], rec["success"], rec["reward"], rec["steps"],
                                 rec["total_tokens"], f"{trajectories}#L{line_no}"])
            columns = ["episode", "task_type", "success", "reward", "steps", "tokens", "trace"]
            self.run.log({"trajectories": wandb.Table(columns=columns, data=rows)})
        for bank in self._files(folder, "bank"):
            hints = json.loads(bank.read_text())["hints"]
            rows = [[h["id"], h["category"], h["type"], h["text"], len(h["sources"]), h["absorbed"]] for h in hints]
            self.run.log({"hint_bank": wandb.Table(columns=["id", "category", "type", "text", "sources", "absorbed"],
                                                   data=rows)})
        for figure in self._files(folder, "figure"):
            self.run.log({"figure3": wandb.Image(str(figure))})


def make_tracker(cfg: DictConfig, root: Path) -> NoTracker | WandbTracker:
    return WandbTracker(cfg, root) if cfg.logger.name == "wandb" else NoTracker()
