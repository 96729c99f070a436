"""How far the episodes of ALFWorld runs got toward their tasks (hintrag/envs/alfworld_progress.py):
saw the object the task names, took it (at first sight), then put it back or went to the target,
placed it, won. One markdown row per run folder of the store (its trajectories, shards included).

  python experiments/alfworld_progress.py outputs/rollout/alfworld-act-...-valid_seen-s0-<key> [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hintrag.envs.alfworld_progress import STEPS, summary  # noqa: E402
from hintrag.files import read_jsonl  # noqa: E402
from hintrag.stagegraph import TRAJECTORY_FILES  # noqa: E402


def table(folders: list[Path]) -> str:
    """A markdown table, one row of STEPS counts per run folder."""
    rows = ["| run | " + " | ".join(STEPS) + " |", "|---" * (len(STEPS) + 1) + "|"]
    for folder in folders:
        files = sorted(folder.glob(TRAJECTORY_FILES))
        if not files:
            raise SystemExit(f"{folder} holds no {TRAJECTORY_FILES}; name a run folder of the store")
        counts = summary([rec for f in files for rec in read_jsonl(f)])
        rows.append(f"| {folder.name} | " + " | ".join(str(counts[s]) for s in STEPS) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print(table([Path(a) for a in sys.argv[1:]]))
