"""ALFWorld progress counts (hintrag/envs/alfworld_progress.py): each event is read off the trace
as the game answered it, and the script prints one row per run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hintrag.envs.alfworld_progress import Sight, Task, missed_sight, progress, summary

GAME = "valid_seen/pick_heat_then_place_in_recep-Apple-None-CounterTop-13/trial_T2019"


def record(steps: list[tuple[str, str]], success: bool = False, game: str = GAME) -> dict:
    return {"episode_id": game, "success": success,
            "trace": [{"action": a, "observation": o} for a, o in steps]}


SEE = ("go to diningtable 1", "You arrive at diningtable 1. On the diningtable 1, you see a pineapple 1, a apple 2.")
TAKE = ("take apple 2 from diningtable 1", "You pick up the apple 2 from the diningtable 1.")
BACK = ("move apple 2 to diningtable 1", "You move the apple 2 to the diningtable 1.")


def test_the_task_is_read_from_the_games_folder() -> None:
    assert Task.of(GAME) == Task("apple", "countertop")
    with pytest.raises(ValueError, match="ALFWorld game path"):
        Task.of("webshop/17")


def test_a_put_back_is_told_from_going_to_the_target() -> None:
    looped = progress(record([("go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed."), SEE, TAKE, BACK]))
    assert (looped.saw, looped.took_at_first_sight, looped.took, looped.after_taking) == (1, True, 2, "put back")
    assert looped.placed is None and not looped.won
    onward = progress(record([SEE, ("go to fridge 1", "You arrive at fridge 1."), TAKE,
                              ("go to countertop 1", "You arrive at countertop 1."),
                              ("move apple 2 to countertop 1", "You move the apple 2 to the countertop 1.")], True))
    assert (onward.took_at_first_sight, onward.after_taking, onward.placed, onward.won) == (False, "to target", 4, True)


def test_only_what_the_game_carried_out_counts_and_names_match_whole_words() -> None:
    refused = progress(record([("take apple 2 from diningtable 1", "Nothing happens.")]))
    assert refused.took is None and refused.saw is None  # "pineapple 1" is not an apple either
    assert progress(record([("look", "On the table 1, you see a pineapple 1.")])).saw is None
    counts = summary([record([SEE, TAKE, BACK]), record([SEE], success=True)])
    assert counts == {"games": 2, "saw": 2, "took_at_first_sight": 1, "took": 1, "then_put_back": 1,
                      "then_went_to_target": 0, "placed": 0, "won": 1}


def test_the_script_prints_a_row_per_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "alfworld-run"
    run.mkdir()
    (run / "trajectories.shard0of2.jsonl").write_text(json.dumps(record([SEE, TAKE, BACK])) + "\n")
    (run / "trajectories.shard1of2.jsonl").write_text(json.dumps(record([SEE], True)) + "\n")
    script = Path(__file__).resolve().parents[1] / "experiments" / "alfworld_progress.py"
    out = subprocess.run([sys.executable, str(script), str(run)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "| alfworld-run | 2 | 2 | 1 | 1 | 1 | 0 | 0 | 1 |"
    empty = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert empty.returncode != 0 and "holds no trajectories" in empty.stderr


def test_a_missed_sight_names_the_take_the_game_offered_there() -> None:
    opened = ("open fridge 1", "You open the fridge 1. The fridge 1 is open. In it, you see a apple 3, and a egg 1.")
    walked_on = record([("go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed."), opened,
                        ("close fridge 1", "You close the fridge 1.")])
    assert missed_sight(walked_on) == Sight(GAME, 1, "close fridge 1", "take apple 3 from fridge 1")
    assert missed_sight(record([SEE, ("go to fridge 1", "You arrive at fridge 1.")])).take == \
        "take apple 2 from diningtable 1"
    assert missed_sight(record([SEE, TAKE])) is None                       # taken at first sight
    assert missed_sight(record([SEE, ("go to fridge 1", "...")], True)) is None  # won
    assert missed_sight(record([SEE])) is None                             # the game ended there
    assert missed_sight(record([("look", "On the table 1, you see a apple 1."), ("go to fridge 1", "...")])) is None
