"""Results: the paper's table layout from the run store, Figure 3, W&B offline contents, the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, tiny_overrides

from hintrag import tables as report

SECRET = "sk-hintrag-report-test-123"


def cell(regime: str, agent: str, success: float, tokens: float, done: int = 4, k: int | None = None) -> report.Cell:
    """A run of `done` of 4 episodes e0.., the first round(success x done) of them won."""
    wins = round(success * done)
    records = [{"episode_id": f"e{i}", "success": i < wins, "reward": float(i < wins), "steps": 10,
                "total_tokens": tokens} for i in range(done)]
    metrics = {"success_rate": wins / done, "score": 100 * wins / done, "mean_steps": 10.0, "mean_total_tokens": tokens}
    return report.Cell(regime, agent, k, f"{regime}-{agent}-{k}", done, 4, metrics, records=records)


CELLS = [cell("Base", "react", 0.5, 40000), cell("RAG", "react", 0.75, 50000, k=3), cell("RAG", "react", 0.25, 52000, k=1),
         cell("SFT", "react", 0.5, 30000, done=2), cell("Distill", "react", 1.0, 20000), cell("Base", "stateact", 0.25, 45000)]


def test_main_table_has_the_papers_layout_intervals_and_marks_incomplete_runs() -> None:
    rows = report.main_table(CELLS, ["react", "stateact"], 3, scored=False)
    assert rows[0] == ["regime", "react success", "react steps", "react tokens", "react Δsuccess vs Base",
                       "stateact success", "stateact steps", "stateact tokens", "stateact Δsuccess vs Base"]
    assert [r[0] for r in rows[1:]] == ["Reference", "Base", "RAG", "SFT", "Distill"]
    assert rows[1][1:] == ["-"] * 8  # no reference run in the store
    # 2 of 4: Wilson 95% [15.0, 85.0]; constant steps and tokens: point intervals
    assert rows[2][1:5] == ["50.00 [15.0, 85.0]", "10.00 [10.0, 10.0]", "40.00k [40.0, 40.0]", "-"]
    assert rows[3][1].startswith("75.00 [") and rows[3][4].startswith("+25.00 [0.0, ")  # RAG at k=3, not k=1
    # SFT played 2 of the 4: e0 won (as Base), e1 lost (Base won it), so -50 on the episodes both played
    assert rows[4][1] == "50.00 [9.5, 90.5]*" and rows[4][4] == "-50.00 [-100.0, 0.0]"
    assert rows[5][1].startswith("100.00 [51.0, 100.0]") and rows[5][5:] == ["-", "-", "-", "-"]
    web = report.main_table(CELLS, ["react"], 3, scored=True)
    assert web[0] == ["regime", "react score", "react success", "react steps", "react tokens", "react Δscore vs Base"]
    assert report.k_table(CELLS, ["react"], scored=False)[0] == ["agent", "k=1", "k=3"]
    md = report.markdown(rows)
    assert md.splitlines()[1] == "|" + "---|" * 9 and "| Distill | 100.00 [51.0, 100.0] |" in md


def test_the_paired_differences_name_each_pair_with_its_interval() -> None:
    cells = CELLS + [cell("Reference", "react", 0.25, 0)]
    rows = report.pairs_table(cells, ["react", "stateact"], 3, scored=False)
    assert rows[0] == ["difference", "react Δsuccess [95%]", "stateact Δsuccess [95%]", "react episodes",
                       "stateact episodes"]
    by_pair = {r[0]: r[1:] for r in rows[1:]}
    assert list(by_pair) == ["Distill - Base", "Distill - SFT", "RAG - Base", "SFT - Base", "Base - Reference"]
    assert by_pair["Distill - Base"][0].startswith("+50.00 [") and by_pair["Distill - Base"][2] == "4"
    assert by_pair["Distill - SFT"][0].startswith("+50.00 [") and by_pair["Distill - SFT"][2] == "2"  # SFT played 2
    assert by_pair["Base - Reference"][0].startswith("+25.00 [") and by_pair["Base - Reference"][1] == "-"


def test_the_csv_has_one_line_per_measure_with_numeric_bounds() -> None:
    rows = report.long_rows(CELLS, ["react"], 3, scored=False)
    assert rows[0] == ["regime", "agent", "measure", "value", "low95", "high95", "episodes", "complete", "run"]
    base = next(r for r in rows if r[:3] == ["Base", "react", "success"])
    assert base[3:8] == [50.0, pytest.approx(15.0039, abs=1e-3), pytest.approx(84.9961, abs=1e-3), 4, True]
    assert [r[0] for r in rows if r[2] == "success_minus_base"] == ["RAG", "SFT", "Distill"]
    assert report.to_csv(rows).splitlines()[0].startswith("regime,agent,measure,value")


def test_the_table_says_when_there_are_too_few_episodes() -> None:
    assert "too few episodes" in report.caution(4) and "too few" not in report.caution(134)


def test_figure3_is_written_as_png_and_svg(tmp_path: Path) -> None:
    report.figure3(CELLS, ["react", "stateact"], 3, False, tmp_path / "figure3", "t")
    assert (tmp_path / "figure3.png").stat().st_size > 1000 and b"<svg" in (tmp_path / "figure3.svg").read_bytes()


@pytest.fixture(scope="module")
def pipeline_store(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, alfworld_data: Path):
    """The whole pipeline with the tiny model, W&B offline, an API key in the environment."""
    root = tmp_path_factory.mktemp("store")
    args = tiny_overrides(tiny_model_dir, alfworld_data, root) + [
        "pipeline.train_episodes=2", "n_episodes=2", "pipeline.max_steps=2", f"extractor.model.path={tiny_model_dir}",
        "extractor.model.gguf_file=null", "extractor.model.name=tiny-random", "hints.max_new_tokens=8",
        "logger=wandb", "retrieval=tfidf"]
    env = {**os.environ, "WANDB_MODE": "offline", "OPENAI_API_KEY": SECRET}
    first = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    return root, args, env, first.stdout


def test_pipeline_runs_every_stage_and_prints_the_table(pipeline_store) -> None:
    root, _, _, out = pipeline_store
    assert {p.name for p in root.iterdir()} >= {"rollout", "extract", "teacher", "report", "wandb"}
    assert "nothing to do for 'Stage D: distill student from train'" in out and "no usable training examples" in out
    assert "skipping 'distill student on valid_unseen'" in out
    assert "| regime | react success | react steps | react tokens |" in out
    assert "| Base | 0.00 [0.0, 65.8] | 2.00 [2.0, 2.0] |" in out and "too few episodes" in out and "figure: " in out
    folder = next((root / "report").iterdir())
    assert {"table.md", "table.csv", "k_table.csv", "figure3.png", "figure3.svg"} <= {p.name for p in folder.iterdir()}


def test_rerun_resumes_and_does_no_new_work(pipeline_store) -> None:
    root, args, env, _ = pipeline_store
    before = {p: p.read_bytes() for p in root.rglob("trajectories.jsonl")}
    again = subprocess.run([sys.executable, "run.py", *args, "logger=none"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to play" in again.stderr + again.stdout
    assert {p: p.read_bytes() for p in root.rglob("trajectories.jsonl")} == before


def test_wandb_offline_runs_hold_config_metrics_tables_and_figure(pipeline_store) -> None:
    from wandb_offline import summary

    root = pipeline_store[0]
    runs = {}
    for path in sorted((root / "wandb").glob("offline-run-*/run-*.wandb")):
        info = summary(path)
        runs.setdefault(info["job_type"], []).append((path, info))
    assert {"rollout", "extract", "teacher", "report"} <= set(runs)
    for job, found in runs.items():
        for path, info in found:
            assert f"stage:{job}" in info["tags"] and "env:alfworld" in info["tags"] and "model:tiny-random" in info["tags"]
            assert info["group"] == "alfworld-tiny-random" and info["config"]["env"]["name"] == "alfworld"
    teacher_tags = runs["teacher"][0][1]["tags"]
    assert "k3" in teacher_tags and "llm_rerank" not in teacher_tags and "tfidf" in teacher_tags
    rollout_path, rollout = runs["rollout"][0]
    assert {"success_rate", "mean_total_tokens", "trajectories"} <= rollout["history"]
    tables = list((rollout_path.parent / "files" / "media" / "table").glob("trajectories_*.table.json"))
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["episode", "task_type", "success", "reward", "steps", "tokens", "trace"]
    assert len(table["data"]) == 2 and table["data"][0][6].endswith("trajectories.jsonl#L1")
    assert "hint_bank" in runs["extract"][0][1]["history"]
    assert "figure3" in runs["report"][0][1]["history"]
    files = [p for p in (root / "wandb").rglob("*") if p.is_file()]
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]


def _record(episode: str) -> dict:
    return {"episode_id": episode, "category": "c", "success": True, "reward": 1.0, "steps": 1, "end_reason": "won",
            "nothing_happens": 0, "invalid_actions": 0, "prompt_tokens": 1, "completion_tokens": 1,
            "retrieval_tokens": 0, "total_tokens": 2}


def test_report_matches_runs_by_signature_and_picks_the_newest_finished(tmp_path: Path) -> None:
    """RAG cells carry their k, a student of another recipe is no match, equals go to the newest finished."""
    from conftest import make_cfg

    from hintrag import store
    from hintrag.stages.report import scan

    base = ["env.data_dir=/d", f"store.root={tmp_path}", "report.agents=[react,stateact]"]
    ids = ["a", "b"]

    def played(stage: str, *overrides: str, n: int = 2, finished: float = 1e9) -> str:
        run = store.open_run(stage, make_cfg(*base, *overrides), tmp_path)
        for episode in ids[:n]:
            run.append("trajectories.jsonl", _record(episode))
        run.write_json("metrics.json", {})
        os.utime(run.path / "metrics.json", (finished, finished))
        return run.key

    played("rollout")
    played("teacher", "k=1")
    rag3 = played("teacher", "k=3", n=1)
    played("eval", "train.lr=1e-3")  # a distilled student of another recipe than this config's
    sft = played("eval", "train.regime=sft")
    older = played("rollout", "agent=stateact", finished=1e9)
    newer = played("rollout", "agent=stateact", "agent.fewshot=0", finished=2e9)
    cells = scan(make_cfg(*base), tmp_path, ids)
    assert sorted((c.regime, c.agent, c.k) for c in cells) == sorted(
        [("Base", "react", None), ("RAG", "react", 1), ("RAG", "react", 3), ("SFT", "react", None),
         ("Base", "stateact", None), ("Base", "stateact", None)])
    assert report.pick(cells, "RAG", "react", 3).run == rag3 and report.pick(cells, "SFT", "react").run == sft
    assert report.pick(cells, "Distill", "react") is None
    assert report.pick(cells, "Base", "stateact").run == newer != older
