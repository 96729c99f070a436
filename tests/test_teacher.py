"""Stages B and C wired together with a tiny random model: the run store links them by key,
a sweep over k reuses Stage A and the bank, and teacher records carry their hints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg, tiny_overrides, write_bank

from hintrag import store
from hintrag.errors import ConfigError
from hintrag.hints.hintbank import Bank
from hintrag.stages import run_mode


def test_k_sweep_shares_stage_a_and_bank_keys() -> None:
    cfgs = [make_cfg("mode=teacher", f"k={k}", "env.data_dir=/d") for k in (1, 3, 6, 9)]
    assert len({store.run_key("extract", c) for c in cfgs}) == 1
    assert len({store.run_key(link.stage, up) for c in cfgs for link, up in store.upstream("extract", c)}) == 1
    assert len({store.run_key("teacher", c) for c in cfgs}) == 4
    (stage_a,) = store.signature("extract", cfgs[0])["upstream"]
    assert stage_a == store.signature("rollout", make_cfg("split=train", "env.data_dir=/d"))
    assert store.run_key("extract", make_cfg("extractor=gpt-4o", "env.data_dir=/d")) != store.run_key("extract", cfgs[0])
    assert store.run_key("teacher", make_cfg("retrieval=tfidf", "env.data_dir=/d")) != store.run_key("teacher", cfgs[1])


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, alfworld_data: Path):
    """Stage A on 3 train games and Stage B with the tiny model as extractor."""
    root = tmp_path_factory.mktemp("store")
    base = tiny_overrides(tiny_model_dir, alfworld_data, root) + [
        "max_steps=3", f"extractor.model.path={tiny_model_dir}", "extractor.model.gguf_file=null",
        "extractor.model.name=tiny-random", "hints.max_new_tokens=16"]
    run_mode(make_cfg(*base, "mode=rollout", "split=train", "n_episodes=3"))
    extract = run_mode(make_cfg(*base, "mode=extract"))
    return root, base, extract


def test_extract_reads_every_failure_and_counts_what_it_kept(chain) -> None:
    root, base, extract = chain
    assert extract["failures_read"] == 3
    assert extract["hints_proposed"] == extract["hints_accepted"] + sum(extract["rejected"].values())
    folder = Path(extract["run"])
    proposals = [json.loads(line) for line in (folder / "proposals.jsonl").read_text().splitlines()]
    assert len(proposals) == 3 and all("raw" in p and p["prompt_tokens"] > 0 for p in proposals)
    assert Bank.load(folder / "bank.json").hints is not None
    assert run_mode(make_cfg(*base, "mode=extract"))["failures_read"] == 3  # rerun: nothing asked again
    assert len((folder / "proposals.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize("retrieval", ["tfidf", "llm_rerank"])
def test_teacher_records_carry_retrieved_hints(chain, retrieval: str) -> None:
    root, base, extract = chain
    from hintrag.envs.alfworld import TASK_TYPES

    bank = write_bank(Path(extract["run"]), list(TASK_TYPES))
    cfg = make_cfg(*base, "mode=teacher", "split=valid_unseen", "n_episodes=2", "k=2", f"retrieval={retrieval}",
                   "teacher.repeat_hint=true")
    summary = run_mode(cfg)
    assert summary["bank"] == Path(extract["run"]).name
    records = [json.loads(line) for line in (Path(summary["run"]) / "trajectories.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for rec in records:
        got = rec["retrieval"]
        assert got["method"] == retrieval and len(got["hints"]) == 2
        assert all(bank.get(h["id"]).text == h["text"] and bank.get(h["id"]).category == rec["category"]
                   for h in got["hints"])
        assert all(h["text"] in rec["prompt"][0]["content"] for h in got["hints"])  # placement: system
        assert rec["retrieval_tokens"] == got["tokens"]
        assert rec["total_tokens"] == rec["prompt_tokens"] + rec["completion_tokens"] + rec["retrieval_tokens"]
        assert (rec["retrieval_tokens"] > 0) == (retrieval == "llm_rerank")
        extras = [s["extra_hint"] for s in rec["trace"] if s["extra_hint"]]
        repeated = any(a["action"] == b["action"] for a, b in zip(rec["trace"], rec["trace"][1:]))
        assert len(extras) == (1 if repeated else 0)
        assert all(e not in [h["text"] for h in got["hints"]] for e in extras)


def test_teacher_without_bank_is_one_clear_error(tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path) -> None:
    with pytest.raises(ConfigError, match="no hint bank of Stage B.* at .*mode=extract"):
        run_mode(make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=teacher"))
    with pytest.raises(ConfigError, match="no trajectories of Stage A: base agent on train at .*mode=rollout split=train"):
        run_mode(make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=extract"))
    with pytest.raises(ConfigError, match="k=0"):
        run_mode(make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=teacher", "k=0"))


def sweep_teachers(chain, *args: str) -> tuple[Path, list[str]]:
    """Run a `-m` teacher sweep over k in a subprocess; check it made no new Stage A run and no new bank."""
    root, base, extract = chain
    from hintrag.envs.alfworld import TASK_TYPES

    write_bank(Path(extract["run"]), list(TASK_TYPES))
    upstream = lambda: [sorted(p.name for p in (root / s).iterdir()) for s in ("rollout", "extract")]  # noqa: E731
    before = upstream()
    proc = subprocess.run([sys.executable, "run.py", "-m", "mode=teacher", "retrieval=tfidf", "split=valid_unseen",
                           "n_episodes=1", *args, *base], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert upstream() == before  # no new Stage A run, no new bank
    return root, sorted(p.name for p in (root / "teacher").iterdir())


def test_multirun_over_k_reuses_stage_a_and_bank(chain) -> None:
    root, teachers = sweep_teachers(chain, "k=1,2")
    assert any("-k1-" in t for t in teachers) and any("-k2-" in t for t in teachers)
    for t in teachers:
        rec = json.loads((root / "teacher" / t / "trajectories.jsonl").read_text().splitlines()[0])
        assert len(rec["retrieval"]["hints"]) == (1 if "-k1-" in t else 2)


def test_submitit_local_runs_the_k_sweep_as_separate_processes(chain) -> None:
    root, teachers = sweep_teachers(chain, "hydra/launcher=submitit_local", "k=1,3")
    jobs = [p for p in root.glob("hydra/multirun/*/*/.submitit/*") if p.is_dir() and p.name.isdigit()]
    assert len({p.name for p in jobs}) == 2  # two submitit jobs; locally a job id is its process id
    assert all(list(p.glob("*_log.out")) for p in jobs)
    assert any("-k1-" in t for t in teachers) and any("-k3-" in t for t in teachers)


def test_a_separate_reranker_is_a_second_engine_whose_tokens_count(chain, tiny_model_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """retrieval.model (the authors' separate 7B; here a tiny random model on a second hf engine):
    the re-ranker asks that engine, not the agent's, and its tokens are the episodes' retrieval
    tokens. Its answers are noise, so the fallback picks the hints; the tokens count all the same."""
    import hintrag.play
    from hintrag.envs.alfworld import TASK_TYPES
    from hintrag.hints import retrieval

    root, base, extract = chain
    write_bank(Path(extract["run"]), list(TASK_TYPES))
    agents, rerankers, answers = [], [], []
    make_agent_engine, make_second_engine = hintrag.play.make_backend, retrieval.make_backend

    def second_engine(*args):
        engine = make_second_engine(*args)
        generate = engine.generate
        engine.generate = lambda requests: answers.extend(out := generate(requests)) or out
        rerankers.append(engine)
        return engine

    monkeypatch.setattr(hintrag.play, "make_backend",
                        lambda *args: agents.append(make_agent_engine(*args)) or agents[-1])
    monkeypatch.setattr(retrieval, "make_backend", second_engine)
    separate = ["+model@retrieval.model=smollm2-135m", f"retrieval.model.path={tiny_model_dir}",
                "retrieval.model.gguf_file=null", "retrieval.model.name=tiny-reranker"]
    cfg = make_cfg(*base, "mode=teacher", "split=valid_unseen", "n_episodes=2", "k=2", *separate)
    summary = run_mode(cfg)
    (agent,), (reranker,) = agents, rerankers
    assert reranker is not agent and reranker.model is not agent.model
    records = [json.loads(line) for line in (Path(summary["run"]) / "trajectories.jsonl").read_text().splitlines()]
    assert len(records) == len(answers) == 2
    spent = sorted(a.prompt_tokens + a.completion_tokens for a in answers)
    assert sorted(r["retrieval_tokens"] for r in records) == spent
    assert all(r["retrieval_tokens"] > 0 and len(r["retrieval"]["hints"]) == 2 for r in records)
    assert all(r["total_tokens"] == r["prompt_tokens"] + r["completion_tokens"] + r["retrieval_tokens"]
               for r in records)
    own = make_cfg(*base, "mode=teacher", "split=valid_unseen")
    assert store.run_key("teacher", cfg) != store.run_key("teacher", own)
