"""The ALFWorld env over the shared 0.4.2 data: splits, task types, actions, errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import make_cfg

from hintrag.envs import make_suite
from hintrag.envs.alfworld import TASK_TYPES, canonical_action, task_type
from hintrag.errors import ConfigError


@pytest.fixture(scope="module")
def suite(alfworld_data: Path):
    return make_suite(make_cfg(f"env.data_dir={alfworld_data}").env)


def test_valid_unseen_is_the_papers_134_games(suite) -> None:
    specs = suite.episodes("valid_unseen")
    assert len(specs) == 134 and len({s.id for s in specs}) == 134
    assert Counter(s.category for s in specs) == {
        "pick_and_place_simple": 24, "look_at_obj_in_light": 18, "pick_clean_then_place_in_recep": 31,
        "pick_heat_then_place_in_recep": 23, "pick_cool_then_place_in_recep": 21, "pick_two_obj_and_place": 17}


def test_interleaved_order_covers_every_type_first(suite) -> None:
    first = suite.episodes("valid_unseen")[:6]
    assert sorted(s.category for s in first) == sorted(TASK_TYPES)
    assert suite.episodes("valid_unseen") == suite.episodes("valid_unseen")


def test_other_splits(suite) -> None:
    assert len(suite.episodes("valid_seen")) == 140
    train = suite.episodes("train")
    assert len(train) == 1200  # the shared data's 200 train games per task type
    assert {c: sum(s.category == c for s in train) for c in TASK_TYPES} == {c: 200 for c in TASK_TYPES}


def test_task_type_from_path() -> None:
    assert task_type("x/valid_unseen/pick_clean_then_place_in_recep-Bowl-None-Cabinet-10/trial_1/game.tw-pddl") == \
        "pick_clean_then_place_in_recep"


@pytest.mark.parametrize("said,admissible,expected", [
    ("put mug 1 in/on desk 2", ["move mug 1 to desk 2"], "move mug 1 to desk 2"),
    ("put mug 1 in desk 2", [], "move mug 1 to desk 2"),
    ("Put  Mug 1 on Desk 2", [], "move mug 1 to desk 2"),
    ("move mug 1 to desk 2", [], "move mug 1 to desk 2"),
    ("go to desk 1", [], "go to desk 1"),
])
def test_put_maps_to_move(said: str, admissible: list[str], expected: str) -> None:
    assert canonical_action(said, admissible) == expected


def test_play_a_game_to_the_win_with_old_put_syntax(suite) -> None:
    spec = next(s for s in suite.episodes("valid_unseen")
                if s.id.endswith("pick_and_place_simple-Mug-None-Desk-308/trial_T20190909_210238_431966"))
    episode = suite.make(spec)
    first = episode.reset()
    assert episode.task == "put a mug in desk." and "go to shelf 2" in first.admissible
    assert episode.step("examine the moon").text == "Nothing happens."
    for action in ("go to shelf 2", "take mug 1 from shelf 2", "go to desk 2"):
        assert not episode.step(action).done
    last = episode.step("put mug 1 in/on desk 2")
    assert last.won and last.done and last.reward == 1.0
    episode.close()


def test_max_actions_ends_the_game_after_that_many_commands(alfworld_data: Path) -> None:
    """env.max_actions=3 (the authors' cap is 50): commands and unparsed outputs count, as the game ends it."""
    capped = make_suite(make_cfg(f"env.data_dir={alfworld_data}", "env.max_actions=3").env)
    episode = capped.make(capped.episodes("valid_unseen")[0])
    episode.reset()
    assert not episode.step("look").done
    assert not episode.no_action().done  # an output with no command: "Nothing happens.", counted
    last = episode.step("look")
    assert last.done and not last.won
    episode.close()
    with pytest.raises(ConfigError, match="env.max_actions"):
        make_suite(make_cfg(f"env.data_dir={alfworld_data}", "env.max_actions=0").env)


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p / "empty"])
def test_missing_data_is_one_clear_error(tmp_path: Path, make) -> None:
    target = make(tmp_path)
    if target:
        target.mkdir()
    with pytest.raises(ConfigError, match=r"env\.data_dir.*alfworld-download"):
        make_suite(make_cfg(f"env.data_dir={target if target else 'null'}").env)
