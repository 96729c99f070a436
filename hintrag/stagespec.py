"""What a stage declares, and how its declaration turns a config into the values its run key hashes.

The declarations themselves are in hintrag.stagegraph, the one file that holds the stage graph.
A stage's key hashes whole config groups (`keys`) minus an explicit `exclude` map of dotted
prefixes to the reason each one does not change the result (paths, caches, speed and logging
knobs, aliases). A census test walks every config leaf and fails on any that is neither hashed
by some stage nor excluded with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from omegaconf import DictConfig, OmegaConf

Exclude = Mapping[str, str]  # dotted config prefix -> why it does not decide the result


@dataclass(frozen=True)
class Link:
    """An upstream run this stage reads: that stage under this config with `overrides` applied."""

    stage: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""  # what the upstream run is to this stage, e.g. the report's "Base"


@dataclass(frozen=True)
class StageSpec:
    """One stage of the method, as the rest of the framework sees it."""

    name: str  # the `mode=` that runs it and its folder under the store root
    describe: Callable[[DictConfig], str]  # one line for logs, e.g. "Stage A: base agent on train"
    keys: tuple[str, ...]  # config groups and keys hashed whole into the run key
    exclude: Callable[[DictConfig], Exclude]  # leaves under `keys` that are not hashed, with why
    upstream: Callable[[DictConfig], list[Link]]  # the runs it reads
    name_parts: Callable[[DictConfig], list[str]]  # readable prefix of its folder name
    artifacts: Mapping[str, str] = field(default_factory=dict)  # kind -> file name or glob in its folder
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> allowed values
    loads_model: Callable[[DictConfig], str | None] = lambda cfg: None  # the config key of the model it plays
    # or trains ("model", "extractor.model"), whose warm start (<key>.warm_start) is then an input
    module: str = ""  # hintrag.stages.<module> holds its `run(cfg, root)`; empty: the stage's name


WARM_START = "warm start"  # the label of the link to the behaviour-cloning run a warm-started model merges


def no_links(cfg: DictConfig) -> list[Link]:
    return []


def no_exclude(cfg: DictConfig) -> Exclude:
    return {}


def prefixed(prefix: str, exclude: Exclude) -> dict[str, str]:
    """`exclude` of a sub-config placed under `prefix`, e.g. backend keys under extractor.backend."""
    return {f"{prefix}.{key}": why for key, why in exclude.items()}


_ABSENT = object()
ADDED_WHY = ("at {value!r}, the behaviour from before the key existed, so runs made then keep their keys; "
             "other values are hashed")


def at_default(cfg: DictConfig, defaults: Mapping[str, Any]) -> Exclude:
    """The keys of `defaults` (dotted key -> the value that reproduces the behaviour from before the
    key was added) that `cfg` holds at that value. A key added later is left out of the run key
    while it changes nothing, so every existing run keeps its folder; set otherwise, it is hashed."""
    out: dict[str, str] = {}
    for key, value in defaults.items():
        held = OmegaConf.select(cfg, key, default=_ABSENT)
        if held is not _ABSENT and type(held) is type(value) and held == value:
            out[key] = ADDED_WHY.format(value=value)
    return out


def is_excluded(leaf: str, exclude: Exclude) -> bool:
    return any(leaf == p or leaf.startswith(p + ".") for p in exclude)


def leaves(prefix: str, value: Any) -> dict[str, Any]:
    """Dotted leaf paths of a resolved config value; lists are leaves (their order matters)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(leaves(f"{prefix}.{key}" if prefix else str(key), sub))
        return out
    return {prefix: value}


def config_leaves(cfg: DictConfig, key: str = "") -> dict[str, Any]:
    """Every leaf of `cfg` (or of its sub-config `key`), resolved."""
    node = OmegaConf.select(cfg, key, throw_on_missing=True) if key else cfg
    value = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    return leaves(key, value)


WARM_ADAPTER_WHY = "the warm start's adapter folder; its BC run is hashed as upstream"


def excluded(spec: StageSpec, cfg: DictConfig) -> Exclude:
    """The stage's own exclude map, plus the warm-start adapter folder of the model it loads (set
    by the framework; the BC run it comes from is the stage's upstream link)."""
    model_key = spec.loads_model(cfg)
    return {**spec.exclude(cfg), **({f"{model_key}.warm_adapter": WARM_ADAPTER_WHY} if model_key else {})}


def hashed(spec: StageSpec, cfg: DictConfig) -> dict[str, Any]:
    """The leaves of `spec.keys` that decide the stage's result under `cfg`."""
    exclude = excluded(spec, cfg)
    out: dict[str, Any] = {}
    for key in spec.keys:
        out.update({leaf: v for leaf, v in config_leaves(cfg, key).items() if not is_excluded(leaf, exclude)})
    return dict(sorted(out.items()))
