"""Stages of the method, selected by `mode=`. One module per stage: its declaration (`SPEC`, see
hintrag.stagespec) and `run(cfg, store root) -> summary`. Importing this package declares them all."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, Callable

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from hintrag.stages import bank, demos, evaluate, extract, pipeline, reference, report, rollout, teacher, train
from hintrag.shards import shard_of
from hintrag.store import check_store, writing
from hintrag.tracking import make_tracker
from hintrag.validate import validate_common
from hintrag.warmstart import check as check_warm_start
from hintrag.warmstart import warm_started

log = logging.getLogger(__name__)

MODES: dict[str, Callable[[DictConfig, Path], dict[str, Any]]] = {
    "pipeline": lambda cfg, root: pipeline.run(cfg, root, run_stage),
    "demos": demos.run, "rollout": rollout.run, "extract": extract.run, "teacher": teacher.run, "bank": bank.run,
    "train": train.run, "eval": evaluate.run, "reference": reference.run, "report": report.run,
}


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
