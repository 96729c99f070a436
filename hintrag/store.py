"""Run store: every stage writes into a folder named by the config keys that decide its result.

The folder name is a readable prefix plus a short hash of a *signature* (the subset of the config
that changes the stage's output). Rerunning the same config lands in the same folder and resumes;
knobs that only change speed (batch size, device, caching) or scope (n_episodes) are left out of the
signature, so changing them reuses finished work. Later stages find their inputs by computing the
upstream stage's signature from the same config, never by a path the user passes around.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

# Config paths that decide each stage's result. Anything not listed does not change the output.
_PLAY = [
    "env.name", "env.max_repeats", "env.instruction", "split", "agent", "model.name",
    "model.path", "model.gguf_file", "generation", "max_steps", "seed",
]
SIGNATURES: dict[str, list[str]] = {
    "rollout": _PLAY,
    "extract": ["extractor.name", "extractor.model.path", "extractor.model.gguf_file", "extractor.generation",
                "hints"],
    "teacher": _PLAY + ["retrieval", "k", "teacher"],
    "train": ["train", "lora_rank", "model.name", "model.path", "model.gguf_file"],
    "eval": _PLAY + ["eval"],
    "report": ["env.name", "split", "n_episodes", "max_steps", "env.max_repeats", "seed", "model.name", "k",
               "retrieval.name", "lora_rank", "report"],
}


def _select(cfg: DictConfig, dotted: str) -> Any:
    value = OmegaConf.select(cfg, dotted, throw_on_missing=True)
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def with_values(cfg: DictConfig, values: dict[str, Any]) -> DictConfig:
    """A copy of `cfg` with dotted keys set, e.g. {"split": "train", "train.regime": "sft"}."""
    out = cfg.copy()
    with open_dict(out):
        for key, value in values.items():
            OmegaConf.update(out, key, value, force_add=True)
    return out


# A student's training data: the teacher's trajectories (distill) or the base agent's (sft, the baseline).
REGIMES = {"distill": "teacher", "sft": "rollout"}


def upstream(stage: str, cfg: DictConfig) -> tuple[str, DictConfig] | None:
    """The stage whose output `stage` reads, and the config under which it ran.

    Stage B reads Stage A on `hints.source_split`; the teacher reads the bank; a student learns
    from the teacher (distill) or Stage A (sft) on `train.source_split`; a student's eval reads
    its adapter.
    """
    if stage == "extract":
        return "rollout", with_values(cfg, {"split": cfg.hints.source_split})
    if stage == "teacher":
        return "extract", cfg
    if stage == "train":
        return REGIMES[cfg.train.regime], with_values(cfg, {"split": cfg.train.source_split})
    if stage == "eval" and cfg.eval.student:
        return "train", cfg
    return None


def signature(stage: str, cfg: DictConfig) -> dict[str, Any]:
    """The config values that decide `stage`'s output, plus the key of the run it reads."""
    sig = {"stage": stage, **{key: _select(cfg, key) for key in SIGNATURES[stage]}}
    found = upstream(stage, cfg)
    if found:
        sig["upstream"] = run_key(*found)
    return sig


def run_key(stage: str, cfg: DictConfig) -> str:
    """Readable prefix plus 8 hex digits of the signature's hash, e.g. alfworld-react-smollm2-135m-valid_unseen-s0-1a2b3c4d."""
    sig = signature(stage, cfg)
    digest = hashlib.sha1(json.dumps(sig, sort_keys=True, default=str).encode()).hexdigest()[:8]
    split = {"extract": cfg.hints.source_split, "train": cfg.train.source_split}.get(stage, cfg.split)
    parts = [cfg.env.name, cfg.agent.name, cfg.model.name, split, f"s{cfg.seed}"]
    if stage == "extract":
        parts.append(cfg.extractor.name)
    if stage == "teacher":
        parts += [cfg.retrieval.name, f"k{cfg.k}"]
    if stage == "train":
        parts += [cfg.train.regime, f"r{cfg.lora_rank}"]
    if stage == "eval":
        parts.append(f"student-{cfg.train.regime}" if cfg.eval.student else "agent")
    if stage == "report":
        parts = [cfg.env.name, "-".join(cfg.report.agents), cfg.model.name, cfg.split, f"s{cfg.seed}"]
    return "-".join(str(p) for p in parts + [digest])


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the records of an append-only JSONL file; a torn last line (killed writer) is dropped with a warning."""
    if not path.exists():
        return
    with path.open() as handle:
        lines = handle.read().split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:
                log.warning("%s: dropping torn last line %d (an interrupted write)", path, number)
            else:
                raise


@dataclass
class Run:
    """One stage's folder in the store."""

    stage: str
    key: str
    path: Path

    def append(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON record and fsync it, so a finished item survives a kill."""
        target = self.path / name
        self._repair_tail(target)
        with target.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def _repair_tail(target: Path) -> None:
        """Cut a torn last line left by a killed writer, so new records start on a fresh line."""
        if not target.exists() or target.stat().st_size == 0:
            return
        with target.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            cut = data.rfind(b"\n") + 1
            log.warning("%s: truncating a torn last line of %d bytes", target, len(data) - cut)
            handle.truncate(cut)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Records of `name` and of its shard files (`stem.shard<i>of<n>.jsonl`), in file order."""
        stem = name.removesuffix(".jsonl")
        files = sorted(self.path.glob(f"{stem}.shard*.jsonl"))
        return [rec for f in [self.path / name, *files] for rec in read_jsonl(f)]

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.path / name, obj)


def open_run(stage: str, cfg: DictConfig, root: Path) -> Run:
    """Find or create the stage's folder and save the resolved config and signature beside it."""
    run = locate_run(stage, cfg, root)
    run.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.path / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_json(run.path / "signature.json", signature(stage, cfg))
    return run


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
