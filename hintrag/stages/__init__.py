"""Stages of the method, selected by `mode=`: each stage declared in hintrag.stagegraph has one
module here with `run(cfg, store root) -> summary`; `pipeline` runs them all in dependency order."""

from __future__ import annotations

import importlib
import logging
import os
import random
from pathlib import Path
from typing import Any, Callable

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from hintrag import stagegraph
from hintrag.stages import pipeline
from hintrag.shards import shard_of
from hintrag.store import check_store, writing
from hintrag.tracking import make_tracker
from hintrag.validate import validate_common
from hintrag.warmstart import check as check_warm_start
from hintrag.warmstart import warm_started

log = logging.getLogger(__name__)

Run = Callable[[DictConfig, Path], dict[str, Any]]


def stage_run(name: str) -> Run:
    """The `run` of a declared stage: hintrag.stages.<its module>.run."""
    spec = stagegraph.get(name)
    return importlib.import_module(f"hintrag.stages.{spec.module or spec.name}").run


# Every mode: the pipeline, then each stage of the graph.
MODES: dict[str, Run] = {"pipeline": lambda cfg, root: pipeline.run(cfg, root, run_stage),
                         **{name: stage_run(name) for name in stagegraph.STAGES}}


def _seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def store_root(cfg: DictConfig) -> Path:
    """The run store, relative to where the user launched (Hydra does not chdir)."""
    try:
        return Path(to_absolute_path(cfg.store.root))
    except ValueError:  # outside a Hydra app (tests use compose())
        return Path(cfg.store.root).absolute()


def run_stage(mode: str, cfg: DictConfig, root: Path) -> dict[str, Any]:
    """One stage, tracked as one experiment-tracker run (W&B with logger=wandb), holding its run's write lock."""
    _seed(int(cfg.seed))
    cfg = warm_started(mode, cfg, root)
    tracker = make_tracker(cfg, root)
    with writing(mode, cfg, root, shard_of(cfg).suffix()), tracker.stage(mode, cfg):
        summary = MODES[mode](cfg, root)
        tracker.log_summary(summary)
    return summary


def run_mode(cfg: DictConfig) -> dict[str, Any]:
    """Validate, then run the selected stage (the pipeline runs its stages one by one)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    validate_common(cfg, tuple(MODES))
    check_warm_start(cfg)
    root = store_root(cfg)
    check_store(root)
    if cfg.mode == "pipeline":
        return MODES["pipeline"](cfg, root)
    return run_stage(cfg.mode, cfg, root)
