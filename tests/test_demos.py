"""mode=demos: the env's scripted expert as ordinary trajectory records (the warm start's data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_cfg

from hintrag import store
from hintrag.agents import make_agent
from hintrag.scripted import demo_games
from hintrag.envs import make_suite
from hintrag.errors import ConfigError
from hintrag.play import select_episodes
from hintrag.records import EpisodeRecord
from hintrag.stages import run_mode
from hintrag.training import data


def demos(root: Path, *overrides: str) -> tuple[dict, list[dict]]:
    summary = run_mode(make_cfg("mode=demos", "demos.per_category=1", f"store.root={root}", *overrides))
    return summary, list(store.read_jsonl(Path(summary["run"]) / "trajectories.jsonl"))


@pytest.mark.parametrize("agent", ["react", "stateact"])
def test_alfworld_demos_are_complete_records_that_load_with_datasets(tmp_path: Path, alfworld_data: Path,
                                                                     agent: str) -> None:
    import datasets

    summary, records = demos(tmp_path, f"env.data_dir={alfworld_data}", f"agent={agent}")
    assert len(records) == 6 and {r["category"] for r in records} == set(make_suite(make_cfg(
        f"env.data_dir={alfworld_data}").env).categories)
    assert all(set(r) == set(EpisodeRecord.__dataclass_fields__) for r in records)
    assert all(r["prompt_tokens"] == r["completion_tokens"] == r["total_tokens"] == 0 for r in records)
    assert sum(r["success"] for r in records) >= 5 and all(r["end_reason"] in ("won", "max_steps") for r in records)
    loaded = datasets.load_dataset("json", data_files=str(Path(summary["run"]) / "trajectories.jsonl"), split="train")
    assert loaded.num_rows == 6 and loaded[0]["trace"][0]["finish_reason"] == "expert"
    # the student's view: no example and no hint block in the opening, the expert's own turns after it
    cfg = make_cfg(f"env.data_dir={alfworld_data}", f"agent={agent}")
    examples, dropped = data.build(records, make_agent(cfg.agent, cfg.env), data.Keep())
    text = "\n".join(m["content"] for e in examples for m in e.messages)
    assert len(examples) == sum(r["success"] for r in records) and set(dropped) <= {"not_successful"}
    assert cfg.agent.example_header not in text and "Lessons from earlier attempts" not in text


def test_demos_resume_and_do_no_work_twice(tmp_path: Path, alfworld_data: Path) -> None:
    first, records = demos(tmp_path, f"env.data_dir={alfworld_data}")
    again, records_again = demos(tmp_path, f"env.data_dir={alfworld_data}")
    assert again["run"] == first["run"] and records_again == records


def test_webshop_oracle_demos(tmp_path: Path, webshop_data: Path) -> None:
    _, records = demos(tmp_path, "env=webshop", "agent=act", f"env.data_dir={webshop_data}")
    assert len(records) == 5 and all(r["episode_id"].startswith("fixed_") for r in records)
    won = [r for r in records if r["success"]]
    assert won and all(r["reward"] == 1.0 and r["trace"][-1]["output"] == "click[Buy Now]" for r in won)
    assert all(r["trace"][0]["action"].startswith("search[") for r in won)
    assert all(r["end_reason"] in ("won", "lost", "no_plan", "max_steps") for r in records)


def test_demo_games_are_apart_from_what_stage_a_plays(alfworld_data: Path) -> None:
    """The default pipeline's Stage A plays the first train games; demos take each type's last."""
    cfg = make_cfg(f"env.data_dir={alfworld_data}")
    suite = make_suite(cfg.env)
    demo_ids = {s.id for s in demo_games(suite, "train", int(cfg.demos.per_category))}
    stage_a = {s.id for s in select_episodes(suite, "train", 600)}  # far more than any small preset plays
    assert len(demo_ids) == 6 * int(cfg.demos.per_category) and not demo_ids & stage_a


def test_demos_refuse_the_evaluation_split(tmp_path: Path, alfworld_data: Path) -> None:
    with pytest.raises(ConfigError, match="evaluation split"):
        demos(tmp_path, f"env.data_dir={alfworld_data}", "demos.split=valid_unseen")


def test_bc_trains_on_the_demos_without_example_or_hints(tmp_path: Path, alfworld_data: Path,
                                                         tiny_model_dir: Path) -> None:
    import json

    from conftest import tiny_overrides

    common = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "demos.per_category=1"]
    with pytest.raises(ConfigError, match="mode=demos"):  # the warm start names the stage that makes its data
        run_mode(make_cfg(*common, "mode=train", "train.regime=bc"))
    made = run_mode(make_cfg(*common, "mode=demos"))
    trained = run_mode(make_cfg(*common, "mode=train", "train.regime=bc", "train.eval_fraction=0"))
    folder = Path(trained["run"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source_stage"] == "demos" and manifest["source_run"] == Path(made["run"]).name
    assert (folder / "adapter" / "adapter_config.json").is_file()
    agent = make_cfg(*common).agent
    chats = [json.loads(line)["messages"] for line in (folder / "dataset" / "train.jsonl").read_text().splitlines()]
    text = "\n".join(m["content"] for chat in chats for m in chat)
    assert len(chats) == manifest["kept"] >= 5
    assert agent.example_header not in text and agent.task_header not in text and agent.hint_header not in text
    assert all(chat[0]["role"] == "system" and chat[-1]["role"] == "assistant" for chat in chats)
