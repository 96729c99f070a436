"""File handling for everything that writes or reads a run's files: atomic writes, fsynced JSONL
appends with torn-line repair, JSONL reads, content digests.

It imports nothing of hintrag, so any module (an env's data cache, a hint bank, a training set,
the run store) can write safely without pulling in the stage graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

log = logging.getLogger(__name__)


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


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON record and fsync it, so a finished item survives a kill."""
    repair_tail(path)
    with path.open("a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def repair_tail(path: Path) -> None:
    """Cut a torn last line left by a killed writer, so new records start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        data = handle.read()
        cut = data.rfind(b"\n") + 1
        log.warning("%s: truncating a torn last line of %d bytes", path, len(data) - cut)
        handle.truncate(cut)


def json_digest(obj: Mapping[str, Any]) -> str:
    """8 hex digits of the sha1 of `obj` as sorted JSON: equal values, equal digest (a run key's hash)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:8]


def folder_digest(folder: Path) -> str:
    """12 hex digits of the sha1 of a folder's files, names and bytes: equal contents, equal digest
    (an adapter's weights, a student's dataset)."""
    h = hashlib.sha1()
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        h.update(file.name.encode() + b"\0" + file.read_bytes())
    return h.hexdigest()[:12]
