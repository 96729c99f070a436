"""Run store: every stage writes into a folder named by the config keys that decide its result.

The folder name is a readable prefix plus a short hash of a *signature*: the config leaves the
stage's declaration (hintrag.stagegraph) hashes, and in full the signatures of the runs it reads.
Rerunning the same config lands in the same folder and resumes; knobs that only change speed
(batch size, device, caching), scope (n_episodes) or logging are excluded, each with its reason,
so changing them reuses finished work. Later stages find their inputs by computing the upstream
stage's key from the same config, never by a path the user passes around.
"""

from __future__ import annotations

import fcntl
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from omegaconf import DictConfig, OmegaConf, open_dict

from hintrag import machine, stagegraph, stagespec
from hintrag.files import append_jsonl, atomic_write_json, atomic_write_text, json_digest, read_jsonl
from hintrag.errors import ConfigError
from hintrag.stagespec import WARM_START, Link

log = logging.getLogger(__name__)

SCHEMA = 2  # signature layout; stores written under another one are refused (see check_store)
MARKER = "store.json"
LOCKS = ".locks"  # under the store root: one lock file per run (per shard) a process is writing

# Top-level keys that no stage hashes, with why: they say how and where runs go, not what they compute.
NOT_RESULT = {
    "mode": "which stage runs; each stage has its own folder",
    "n_episodes": "scope: how many of the split's episodes to play (a run grows; the report hashes it)",
    "shard": "parallelism: shards of one run share its folder",
    "num_shards": "parallelism: shards of one run share its folder",
    "k": "alias of teacher.k, which is hashed",
    "lora_rank": "alias of train.lora_rank, which is hashed",
    "warm_start": "the BC recipe; hashed as train.* of the warm-start run, upstream of every stage loading the model",
    "store": "where the run store lives",
    "cluster": "job sizes for the launcher",
    "logger": "experiment tracking",
    "pipeline": "which stages mode=pipeline runs and at what size; each stage's own keys are hashed",
}


def with_values(cfg: DictConfig, values: Mapping[str, Any]) -> DictConfig:
    """A copy of `cfg` with dotted keys set, e.g. {"split": "train", "train.regime": "sft"}."""
    out = cfg.copy()
    with open_dict(out):
        for key, value in values.items():
            OmegaConf.update(out, key, value, force_add=True)
    return out


def upstream(stage: str, cfg: DictConfig) -> list[tuple[Link, DictConfig]]:
    """The runs `stage` reads under `cfg`: each link with the config that upstream run has; the
    warm start's BC run last, for stages that load a warm-started model."""
    spec = stagegraph.get(stage)
    links = list(spec.upstream(cfg))
    model_key = spec.loads_model(cfg)
    warm = stagegraph.warm_start_link(cfg, model_key) if model_key else None
    return [(link, with_values(cfg, link.overrides)) for link in links + ([warm] if warm else [])]


def inputs(stage: str, cfg: DictConfig) -> list[tuple[Link, DictConfig]]:
    """The runs whose data `stage` reads: its upstream without the warm start (which is weights)."""
    return [(link, up) for link, up in upstream(stage, cfg) if link.label != WARM_START]


def signature(stage: str, cfg: DictConfig) -> dict[str, Any]:
    """What decides `stage`'s output: its hashed config values and, in full, those of its upstream chain."""
    return {
        "schema": SCHEMA, "stage": stage, "values": stagespec.hashed(stagegraph.get(stage), cfg),
        "upstream": [signature(link.stage, up) for link, up in upstream(stage, cfg)],
    }


digest = json_digest  # a signature's 8-digit hash, the tail of a run key


def run_key(stage: str, cfg: DictConfig) -> str:
    """Readable prefix plus 8 hex digits of the signature's hash, e.g. <env>-react-smollm2-135m-<split>-s0-1a2b3c4d."""
    parts = stagegraph.get(stage).name_parts(cfg)
    return "-".join(str(p) for p in [*parts, digest(signature(stage, cfg))])


@dataclass
class Run:
    """One stage's folder in the store."""

    stage: str
    key: str
    path: Path

    def append(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON record and fsync it, so a finished item survives a kill."""
        append_jsonl(self.path / name, record)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Records of `name` and of its shard files (`stem.shard<i>of<n>.jsonl`), in file order."""
        stem = name.removesuffix(".jsonl")
        files = sorted(self.path.glob(f"{stem}.shard*.jsonl"))
        return [rec for f in [self.path / name, *files] for rec in read_jsonl(f)]

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.path / name, obj)


def check_store(root: Path) -> None:
    """Refuse a store written before signatures had their current layout, with what to delete.

    Its folders would never be found again (every key changed), so reusing the root silently
    would redo all work beside stale runs that the report could not tell apart.
    """
    marker = root / MARKER
    if marker.is_file():
        schema = json.loads(marker.read_text()).get("schema")
        if schema == SCHEMA:
            return
    else:
        schema = 1
    old = sorted(p.name for p in _stage_folders(root))
    if old:
        raise ConfigError(
            f"the run store {root} was written by an older hintrag (run key schema {schema}, now {SCHEMA}); its runs "
            f"cannot be reused. Delete {', '.join(str(root / name) for name in old)} (or use another store.root=...)"
        )
    atomic_write_json(marker, {"schema": SCHEMA})


def _stage_folders(root: Path) -> list[Path]:
    """The store's stage folders that hold at least one run."""
    return [root / name for name in stagegraph.STAGES if (root / name).is_dir() and any((root / name).iterdir())]


def open_run(stage: str, cfg: DictConfig, root: Path) -> Run:
    """Find or create the stage's folder; save the resolved config and signature beside it, and append
    which machine opened it (hintrag.machine: not in the key, but bf16 numbers depend on it)."""
    check_store(root)
    run = locate_run(stage, cfg, root)
    run.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.path / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_json(run.path / "signature.json", signature(stage, cfg))
    run.append(machine.PROVENANCE, machine.provenance(stage))
    found = machine.kinds(read_jsonl(run.path / machine.PROVENANCE))
    if len(found) > 1:
        log.warning(machine.mixed_warning(run.path, found))
    return run


@contextmanager
def writing(stage: str, cfg: DictConfig, root: Path, shard: str = "") -> Iterator[None]:
    """Hold the write lock of the stage's run (of one shard of it) while the stage runs.

    Two jobs of a sweep that share an upstream stage (`-m k=1,3 mode=pipeline`) ask for the same run
    at once; without the lock both would play every episode into one file or train into one folder.
    The second waits, then resumes the finished run and does nothing twice. flock: released when the
    process dies, so a killed job never leaves a run locked.
    """
    folder = root / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    key = run_key(stage, cfg)
    with (folder / f"{stage}-{key}{shard}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s/%s%s is being written by another process; waiting for it to finish", stage, key, shard)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def locate_run(stage: str, cfg: DictConfig, root: Path) -> Run:
    """Where the stage's run for this config lives; the folder exists only once the stage has run."""
    key = run_key(stage, cfg)
    return Run(stage=stage, key=key, path=root / stage / key)


def unique_by(records: Iterable[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    """Index records by `field`, keeping the first occurrence (append-only files never rewrite)."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        out.setdefault(rec[field], rec)
    return out


def by_episode_order(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records once per episode, sorted by episode id: what a stage builds from them (a bank, a
    dataset) then depends neither on the order episodes finished (batch size, shards, resumes)
    nor on the env's listing order (env.order, which is scope)."""
    return [rec for _, rec in sorted(unique_by(records, "episode_id").items())]


def made(root: Path) -> dict[str, Any]:
    """What the runs of a store made, for telling whether two stores hold the same results: every
    episode's actions (by run folder), the hint banks, the training datasets and the adapters' bytes."""
    out: dict[str, Any] = {}
    for file in sorted(root.glob("*/*/trajectories*.jsonl")):
        for rec in read_jsonl(file):
            out[f"{file.parent.relative_to(root)}/{rec['episode_id']}"] = [s["action"] for s in rec["trace"]]
    for pattern in ("extract/*/bank.json", "train/*/dataset/*.jsonl", "train/*/adapter/*.safetensors"):
        out.update({str(f.relative_to(root)): f.read_bytes() for f in sorted(root.glob(pattern))})
    return out
