"""How far the episodes of ALFWorld runs got toward their tasks (hintrag/envs/alfworld_progress.py):
saw the object the task names, took it (at first sight), then put it back or went to the target,
placed it, won. One markdown row per run folder of the store (its trajectories, shards included).

  python experiments/alfworld_progress.py outputs/rollout/alfworld-act-...-valid_seen-s0-<key> [...]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.envs.alfworld_progress import STEPS, summary  # noqa: E402
from hintrag.stagegraph import TRAJECTORIES, TRAJECTORY_FILES  # noqa: E402
from hintrag.store import Run  # noqa: E402


def run_records(folder: Path) -> list[dict[str, Any]]:
    """A run folder's trajectories, shard files included, read as the store reads them (<root>/<stage>/<key>)."""
    records = Run(folder.parent.name, folder.name, folder).records(TRAJECTORIES)
    if not records:
        raise SystemExit(f"{folder} holds no {TRAJECTORY_FILES}; name a run folder of the store")
    return records


def table(folders: list[Path]) -> str:
    """A markdown table, one row of STEPS counts per run folder."""
    rows = ["| run | " + " | ".join(STEPS) + " |", "|---" * (len(STEPS) + 1) + "|"]
    for folder in folders:
        counts = summary(run_records(folder))
        rows.append(f"| {folder.name} | " + " | ".join(str(counts[s]) for s in STEPS) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print(table([Path(a) for a in sys.argv[1:]]))
