"""The warm start: a model.warm_start=bc config plays and trains with the behaviour-cloning
adapter merged into its weights. Its BC run is an upstream link of every stage that loads the
model (so it is in their run keys); this finds that run's adapter before the stage starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from hintrag import stagegraph
from hintrag.artifacts import adapter
from hintrag.errors import ConfigError
from hintrag.store import with_values

KINDS = ("bc",)  # what model.warm_start may name
LABELS = ("won", "expert")  # imitation.label: what a later round learns from the imitation games


def check(cfg: DictConfig) -> None:
    """One clear error for a warm start that cannot mean anything, before any work."""
    kind = cfg.model.get("warm_start")
    _check_rounds(cfg, kind)
    if kind is None:
        return
    if kind not in KINDS:
        raise ConfigError(f"model.warm_start={kind!r}; choose null or {', '.join(KINDS)}")
    if cfg.mode == "train" and cfg.train.regime == "bc":
        raise ConfigError("train.regime=bc trains the warm start itself, from the plain weights; drop model.warm_start")
    _check_extractor(cfg)


def _check_rounds(cfg: DictConfig, kind: str | None) -> None:
    """Iterated imitation: a round is a count, a later round is a BC run, and mode=imitate plays a
    warm-started agent on the demos' (train) split."""
    for key in ("warm_start.round", "train.round"):
        if int(OmegaConf.select(cfg, key, default=0) or 0) < 0:
            raise ConfigError(f"{key}={OmegaConf.select(cfg, key)} must be >= 0")
    label = OmegaConf.select(cfg, "imitation.label", default="won")
    if label not in LABELS:
        raise ConfigError(f"imitation.label={label!r}; choose one of {', '.join(LABELS)}")
    if cfg.mode == "train" and int(cfg.train.get("round", 0) or 0) and cfg.train.regime != "bc":
        raise ConfigError(f"train.round={cfg.train.round} is a round of the warm start; it needs train.regime=bc")
    if cfg.mode != "imitate":
        return
    if kind is None:
        raise ConfigError("mode=imitate plays a warm-started agent; set model.warm_start=bc (warm_start.round picks "
                          "the round)")
    if str(cfg.split) != str(cfg.demos.split):
        raise ConfigError(f"mode=imitate plays the demos' split ({cfg.demos.split}), never {cfg.split}; set "
                          f"split={cfg.demos.split}")


def _check_extractor(cfg: DictConfig) -> None:
    """A local extractor shares the agent's warm start only when it is the agent's model (checked
    where the extractor runs: mode=extract and the pipeline)."""
    if cfg.mode not in ("extract", "pipeline"):
        return
    ex = cfg.extractor.model
    if ex.get("warm_start") and (ex.path, ex.get("gguf_file")) != (cfg.model.path, cfg.model.get("gguf_file")):
        raise ConfigError(f"extractor.model.warm_start={ex.warm_start}, but the warm start is trained for model "
                          f"{cfg.model.name} and the extractor runs {ex.name}; set extractor.model.warm_start=null")


def warm_started(stage: str, cfg: DictConfig, root: Path) -> DictConfig:
    """`cfg` with <model key>.warm_adapter set to the BC run's adapter, for a stage that loads a model."""
    model_key = stagegraph.get(stage).loads_model(cfg)
    if not model_key or stagegraph.warm_start_link(cfg, model_key) is None:
        return cfg
    return with_values(cfg, {f"{model_key}.warm_adapter": str(adapter(stage, cfg, root, warm_start=True))})


def round_curve(success: Callable[[int], float], max_rounds: int) -> tuple[list[float], int]:
    """Iterated imitation's stopping rule: the success of rounds 0, 1, ... (measured on a selection
    split by `success`) until a round does not beat the best before it, at most `max_rounds` rounds
    after the plain warm start; the curve and the round chosen (the best, the earliest on a tie)."""
    curve = [success(0)]
    for round_ in range(1, max_rounds + 1):
        curve.append(success(round_))
        if curve[-1] <= max(curve[:-1]):
            break
    return curve, curve.index(max(curve))
