"""End to end with the real embedded SmolLM2-135M: 2 valid_unseen games through run.py's code path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_cfg
from transformers import AutoTokenizer

from hintrag import store
from hintrag.agents import make_agent
from hintrag.records import StepRecord
from hintrag.stages import run_mode

EPISODE_FIELDS = {
    "episode_id", "category", "task", "initial_observation", "success", "reward", "steps", "end_reason",
    "nothing_happens", "repetitions", "invalid_actions", "prompt_tokens", "completion_tokens", "retrieval_tokens",
    "total_tokens", "prompt", "trace", "retrieval", "wall_s",
}
STEP_FIELDS = {"output", "action", "kind", "observation", "prompt_tokens", "completion_tokens", "finish_reason",
               "extra_hint", "expert"}


@pytest.mark.slow
def test_rollout_two_unseen_games_with_embedded_model(tmp_path: Path, alfworld_data: Path,
                                                      embedded_model_dir: Path) -> None:
    cfg = make_cfg("mode=rollout", "split=valid_unseen", "n_episodes=2", "max_steps=6",
                   f"env.data_dir={alfworld_data}", f"store.root={tmp_path}")
    summary = run_mode(cfg)
    folder = tmp_path / "rollout" / store.run_key("rollout", cfg)
    records = [json.loads(line) for line in (folder / "trajectories.jsonl").read_text().splitlines()]
    assert len(records) == 2 and summary["n_episodes"] == 2

    tok = AutoTokenizer.from_pretrained(embedded_model_dir)
    agent = make_agent(cfg.agent, cfg.env)

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False).input_ids)

    for rec in records:
        assert set(rec) == EPISODE_FIELDS
        assert rec["category"] in rec["episode_id"] and rec["task"]
        assert 1 <= rec["steps"] == len(rec["trace"]) <= 6
        trace = [StepRecord(**step) for step in rec["trace"]]
        for t, step in enumerate(trace):
            assert set(rec["trace"][t]) == STEP_FIELDS
            assert step.expert == ""  # labels only under imitation.label=expert
            prompt = tok.apply_chat_template(agent.messages(rec["prompt"], trace[:t]), add_generation_prompt=True,
                                             tokenize=False)
            assert step.prompt_tokens == count(prompt)
            assert step.completion_tokens == count(step.output) + (step.finish_reason == "eos")
        assert rec["prompt_tokens"] == sum(s.prompt_tokens for s in trace)
        assert rec["retrieval_tokens"] == 0 and rec["retrieval"] is None
        assert rec["total_tokens"] == rec["prompt_tokens"] + rec["completion_tokens"]
        assert rec["nothing_happens"] == sum(s.observation.startswith("Nothing happens") for s in trace)

    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n_episodes"] == 2 and set(metrics["per_category"]) == {r["category"] for r in records}
    assert metrics["mean_total_tokens"] == sum(r["total_tokens"] for r in records) / 2

    # The same command again does no new work.
    before = (folder / "trajectories.jsonl").read_bytes()
    assert run_mode(cfg)["n_episodes"] == 2
    assert (folder / "trajectories.jsonl").read_bytes() == before
