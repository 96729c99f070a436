"""Stages of the method, selected by `mode=`. One function per stage: (cfg, store root) -> summary."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, Callable

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from hintrag.stages import bank, extract, rollout, teacher
from hintrag.validate import validate_common

log = logging.getLogger(__name__)

MODES: dict[str, Callable[[DictConfig, Path], dict[str, Any]]] = {
    "rollout": rollout.run, "extract": extract.run, "teacher": teacher.run, "bank": bank.run,
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


def run_mode(cfg: DictConfig) -> dict[str, Any]:
    """Validate, seed, and run the selected stage."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    validate_common(cfg, tuple(MODES))
    _seed(int(cfg.seed))
    return MODES[cfg.mode](cfg, store_root(cfg))
