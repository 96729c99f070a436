"""Read a W&B offline run file (`run-*.wandb`, LevelDB-log framing of protobuf records) in tests."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

BLOCK = 32768


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    buf = path.read_bytes()
    assert buf[:4] == b":W&B", path
    pos, chunks, pending = 7, [], b""
    while pos + 7 <= len(buf):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", buf[pos : pos + 7])
        data = buf[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            chunks.append(data)
        elif kind == 2:
            pending = data
        elif kind == 3:
            pending += data
        elif kind == 4:
            chunks.append(pending + data)
    out = []
    for chunk in chunks:
        rec = pb.Record()
        rec.ParseFromString(chunk)
        out.append(rec)
    return out


def finished_records(path: Path, wait_s: float = 60.0) -> list[Any]:
    """The records once the file ends on its `exit` record: wandb's service process may still be
    writing it when `run.finish()` has returned (seen on a loaded 2-core machine)."""
    deadline = time.monotonic() + wait_s
    while True:
        out = records(path)
        if any(rec.WhichOneof("record_type") == "exit" for rec in out) or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def summary(path: Path) -> dict[str, Any]:
    """Run metadata, config, logged history names (top level: a table `t` logs `t/path`, ...) and summary."""
    run, config, history, summ = None, {}, set(), {}
    for rec in finished_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run = rec.run
            config.update({u.key: json.loads(u.value_json) for u in rec.run.config.update})
        elif kind == "config":
            config.update({u.key: json.loads(u.value_json) for u in rec.config.update})
        elif kind == "history":
            history.update(item.key or "/".join(item.nested_key) for item in rec.history.item)
        elif kind == "summary":
            summ.update({u.key or "/".join(u.nested_key): u.value_json for u in rec.summary.update})
    return {"group": run.run_group, "tags": list(run.tags), "job_type": run.job_type, "config": config,
            "history": {key.split("/")[0] for key in history}, "summary": summ}
