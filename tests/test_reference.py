"""mode=reference: the env's trivial policy on the evaluation episodes, the floor row of the report."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_cfg

from hintrag.envs import make_suite
from hintrag.stages import run_mode
from hintrag.stages.pipeline import steps


def records(summary: dict) -> list[dict]:
    return [json.loads(line) for line in (Path(summary["run"]) / "trajectories.jsonl").read_text().splitlines()]


def test_the_webshop_rule_scores_what_it_was_measured_at_and_resumes(tmp_path: Path, webshop_data: Path) -> None:
    """Test goals 0-99: 59.34 with 4 purchases of reward 1 (measured with a plain script before this stage)."""
    args = ["mode=reference", "env=webshop", f"env.data_dir={webshop_data}", "split=test", "n_episodes=100",
            "max_steps=15", f"store.root={tmp_path}"]
    summary = run_mode(make_cfg(*args))
    assert summary["n_episodes"] == 100 and summary["score"] == 59.34 and summary["success_rate"] == 0.04
    played = records(summary)
    first = played[0]
    assert [s["action"] for s in first["trace"]] == [f"search[{first['task']}]", first["trace"][1]["action"],
                                                     "click[Buy Now]"]
    assert first["total_tokens"] == 0 and first["prompt"] == []
    assert run_mode(make_cfg(*args)) == summary and records(summary) == played  # resumed: nothing played again


def test_the_alfworld_reference_is_a_seeded_random_admissible_command(alfworld_data: Path) -> None:
    cfg = make_cfg(f"env.data_dir={alfworld_data}")
    suite = make_suite(cfg.env)
    spec = suite.episodes("valid_unseen")[0]
    one, again, other = (suite.reference(spec, 6, seed) for seed in (0, 0, 1))
    assert one.steps == again.steps and [s["action"] for s in one.steps] != [s["action"] for s in other.steps]
    episode = suite.make(spec)
    obs = episode.reset()
    for step in one.steps:  # every command was admissible where it was taken
        assert step["action"] in obs.choices
        obs = episode.step(step["action"])
    episode.close()


def test_the_pipeline_plays_the_reference_on_the_evaluation_episodes() -> None:
    plan = steps(make_cfg("n_episodes=5"))
    reference, = [s for s in plan if s.mode == "reference"]
    assert reference.cfg.split == "valid_unseen" and reference.cfg.n_episodes == 5 and not reference.needs
    assert reference.key in plan[-1].needs
