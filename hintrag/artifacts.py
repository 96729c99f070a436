"""Reading what an upstream run made: its artifact, found by the run's key, or one clear error.

Every stage that reads another's output (Stage B and D read trajectories, the teacher and
`mode=bank` a hint bank, a student's evaluation its adapter, every warm-started stage the BC
adapter) goes through `read_input`, so a missing input always fails the same way: what was
looked for, where, and the command that makes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from hintrag import stagegraph
from hintrag.errors import ConfigError
from hintrag.hints.hintbank import Bank
from hintrag.stagespec import WARM_START, Link
from hintrag.store import Run, by_episode_order, inputs, locate_run, upstream

Reader = Callable[[Run, Path], Any]  # (the upstream run, its artifact's path) -> its contents, or None if absent

# How each kind of artifact (stagegraph's `artifacts` keys) is read, and what it is called in an error.
READERS: dict[str, tuple[str, Reader]] = {
    "trajectories": ("trajectories", lambda run, path: by_episode_order(run.records(stagegraph.TRAJECTORIES)) or None),
    "bank": ("hint bank", lambda run, path: Bank.load(path) if path.is_file() else None),
    "adapter": ("trained adapter", lambda run, path: path if (path / "adapter_config.json").is_file() else None),
}


def read_input(stage: str, cfg: DictConfig, root: Path, kind: str, warm_start: bool = False) -> tuple[Run, Any]:
    """The upstream run `stage` reads under `cfg` (its warm start's BC run with `warm_start`) and its
    `kind` artifact as READERS reads it, or the error naming the command that makes it."""
    found = ([(link, up) for link, up in upstream(stage, cfg) if link.label == WARM_START] if warm_start
             else inputs(stage, cfg))
    (link, up), = found
    return _read(link, up, cfg, root, kind, warm_start)


def _read(link: Link, up: DictConfig, cfg: DictConfig, root: Path, kind: str, warm_start: bool = False
          ) -> tuple[Run, Any]:
    run = locate_run(link.stage, up, root)
    pattern = stagegraph.get(link.stage).artifacts[kind]
    path = run.path if "*" in pattern else run.path / pattern
    what, read = READERS[kind]
    value = read(run, path)
    if value is None:
        raise missing_input(link, up, cfg, "warm-start adapter" if warm_start else what, path)
    return run, value


def trajectories(stage: str, cfg: DictConfig, root: Path) -> tuple[str, list[dict[str, Any]]]:
    """The episodes of the runs `stage` reads (one, or for a round of iterated imitation the demos and
    the imitation games), each run's in episode-id order, and the runs' keys joined by "+"."""
    read = [_read(link, up, cfg, root, "trajectories") for link, up in inputs(stage, cfg)]
    return "+".join(run.key for run, _ in read), [record for _, records in read for record in records]


def hint_bank(stage: str, cfg: DictConfig, root: Path) -> tuple[Run, Bank]:
    """The bank of the Stage B run `stage` reads."""
    return read_input(stage, cfg, root, "bank")


def adapter(stage: str, cfg: DictConfig, root: Path, warm_start: bool = False) -> Path:
    """The adapter folder of the train run `stage` reads (the student's, or with `warm_start` the BC run's)."""
    return read_input(stage, cfg, root, "adapter", warm_start)[1]


def override_value(value: Any) -> str:
    """`value` as Hydra's command-line grammar reads it back (None is `null` there, not `None`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)) or OmegaConf.is_list(value):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    return str(value)


def missing_input(link: Link, up: DictConfig, cfg: DictConfig, what: str, path: Path) -> ConfigError:
    """The error for an upstream run that is not there: where it was looked for, and the command that makes it."""
    changed = {k: v for k, v in link.overrides.items() if OmegaConf.select(cfg, k) != v or k == "split"}
    args = " ".join(f"{k}={override_value(v)}" for k, v in {"mode": link.stage, **changed}.items())
    title = stagegraph.get(link.stage).describe(up)
    return ConfigError(f"no {what} of {title} at {path}; run `python run.py {args}` with the same settings first")
