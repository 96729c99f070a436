"""model.warm_start=bc: the behaviour-cloning adapter merged into the weights every stage loads,
its BC run upstream of (and so in the key of) everything that plays or trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_cfg, tiny_overrides

from hintrag import store
from hintrag.errors import ConfigError
from hintrag.stages import run_mode

WARM = "model.warm_start=bc"


@pytest.mark.parametrize("stage,extra", [("rollout", ()), ("teacher", ()), ("train", ("train.regime=sft",)),
                                         ("train", ()), ("eval", ()), ("report", ()), ("extract", ())])
def test_a_warm_start_changes_every_downstream_key(stage: str, extra: tuple[str, ...]) -> None:
    cold = make_cfg("env.data_dir=/d", *extra)
    warm = make_cfg("env.data_dir=/d", WARM, *extra)
    assert store.run_key(stage, cold) != store.run_key(stage, warm)


def test_a_warm_start_changes_nothing_upstream() -> None:
    """The demos and the BC run itself are the same with or without the warm start downstream."""
    cold, warm = make_cfg("env.data_dir=/d"), make_cfg("env.data_dir=/d", WARM)
    assert store.run_key("demos", cold) == store.run_key("demos", warm)
    (link, bc), = [(l, u) for l, u in store.upstream("rollout", warm) if l.label == "warm start"]
    plain_bc = make_cfg("env.data_dir=/d", "train.regime=bc", "train.epochs=3", "train.lr=3e-4", "train.max_length=2048")
    assert store.run_key("train", bc) == store.run_key("train", plain_bc)
    assert [l.stage for l, _ in store.upstream("train", bc)] == ["demos"]


def test_the_students_threshold_leaves_the_warm_start_alone() -> None:
    """train.min_reward picks the students' episodes; the BC run keeps warm_start.min_reward, so
    lowering the students' threshold reuses the warm start and changes only the students' keys."""
    warm, low = make_cfg("env.data_dir=/d", WARM), make_cfg("env.data_dir=/d", WARM, "train.min_reward=0.5")
    def bc_of(cfg):
        (bc,) = [u for l, u in store.upstream("rollout", cfg) if l.label == "warm start"]
        return bc
    assert store.run_key("train", bc_of(warm)) == store.run_key("train", bc_of(low))
    assert store.run_key("rollout", warm) == store.run_key("rollout", low)
    assert store.run_key("train", warm) != store.run_key("train", low)
    strict = make_cfg("env.data_dir=/d", WARM, "warm_start.min_reward=0.5")
    assert store.run_key("train", bc_of(strict)) != store.run_key("train", bc_of(warm))


def test_a_local_extractor_shares_the_warm_start_and_a_remote_one_does_not() -> None:
    warm = make_cfg("env.data_dir=/d", WARM)
    (link, bc), = [(l, u) for l, u in store.upstream("extract", warm) if l.label == "warm start"]
    (_, rollout_bc), = [(l, u) for l, u in store.upstream("rollout", warm) if l.label == "warm start"]
    assert store.run_key("train", bc) == store.run_key("train", rollout_bc)  # one BC run for all of them
    assert warm.extractor.model.warm_start == "bc"
    remote = make_cfg("env.data_dir=/d", WARM, "extractor=gpt-4o")
    assert [l.stage for l, _ in store.upstream("extract", remote)] == ["rollout"]  # its model is OpenAI's
    off = make_cfg("env.data_dir=/d", WARM, "extractor.model.warm_start=null")
    assert store.run_key("extract", off) != store.run_key("extract", warm)
    assert all(l.label != "warm start" for l, _ in store.upstream("extract", off))


def test_bad_warm_starts_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="choose null or bc"):
        run_mode(make_cfg("model.warm_start=gpt", f"store.root={tmp_path}", "env.data_dir=/d"))
    with pytest.raises(ConfigError, match="trains the warm start itself"):
        run_mode(make_cfg(WARM, "mode=train", "train.regime=bc", f"store.root={tmp_path}", "env.data_dir=/d"))
    with pytest.raises(ConfigError, match="extractor.model.warm_start=null"):
        run_mode(make_cfg(WARM, "mode=extract", "extractor.model.path=/other", f"store.root={tmp_path}",
                          "env.data_dir=/d"))


@pytest.mark.slow
def test_every_stage_loads_the_warm_started_model(tmp_path: Path, alfworld_data: Path, tiny_model_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM

    common = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "demos.per_category=1", "warm_start.epochs=1",
              f"extractor.model.path={tiny_model_dir}", "extractor.model.gguf_file=null", "hints.max_new_tokens=8",
              f"backend.cache_dir={tmp_path / 'cache'}", f"extractor.backend.cache_dir={tmp_path / 'cache'}",
              "max_steps=2", "n_episodes=2", "train.min_reward=0",
              "train.eval_fraction=0"]
    with pytest.raises(ConfigError, match="mode=train"):  # the BC run is missing: its command is named
        run_mode(make_cfg(*common, WARM, "mode=rollout"))
    run_mode(make_cfg(*common, "mode=demos"))
    run_mode(make_cfg(*common, "mode=train", "train.regime=bc", "train.epochs=1", "train.lr=3e-4",
                      "train.max_length=2048", "train.min_reward=1.0"))  # the command the error named
    from hintrag.llm.models import local_folder
    from hintrag.warmstart import warm_started

    warm_cfg = warm_started("rollout", make_cfg(*common, WARM, "mode=rollout"), tmp_path)
    merged = Path(local_folder(warm_cfg.model, warm_cfg.backend.cache_dir))  # made once here, cached
    assert merged.parent == tmp_path / "cache" / "merged"
    loaded: list[Path] = []
    original = AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, folder, *args, **kwargs):
        loaded.append(Path(folder))
        return original(cls, folder, *args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    for mode, extra in [("rollout", ["split=train"]), ("extract", []), ("train", ["train.regime=sft"]),
                        ("eval", ["train.regime=sft"])]:
        before = len(loaded)
        run_mode(make_cfg(*common, WARM, f"mode={mode}", *extra))
        assert loaded[before:] and set(loaded[before:]) == {merged}, (mode, loaded[before:])  # never the plain base


def _pipeline(root: Path, tiny_model_dir: Path, alfworld_data: Path, workers: int) -> dict:
    cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, root), WARM, "mode=pipeline",
                   f"extractor.model.path={tiny_model_dir}", "extractor.model.gguf_file=null",
                   "extractor.model.name=tiny-random", "hints.max_new_tokens=8", "retrieval=tfidf",
                   "demos.per_category=1", "warm_start.epochs=1", "pipeline.train_episodes=2", "n_episodes=2",
                   "pipeline.max_steps=2", "train.min_reward=0", "train.eval_fraction=0",
                   f"backend.cache_dir={root / 'cache'}", f"extractor.backend.cache_dir={root / 'cache'}",
                   f"pipeline.workers={workers}")
    return run_mode(cfg)


@pytest.mark.slow
def test_the_warm_started_pipeline_trains_and_evaluates_both_students(tmp_path: Path, alfworld_data: Path,
                                                                      tiny_model_dir: Path) -> None:
    """The default pipeline's shape: demos -> warm start -> A -> B -> C -> Base and RAG -> SFT and
    Distill trained and evaluated -> a table with all four rows. The tiny model wins nothing, so
    train.min_reward=0 lets the students learn from every episode. With pipeline.workers=2 the steps
    run in worker processes, two at a time where they can, and make exactly what one process makes."""
    from hintrag import tables as report

    result = _pipeline(tmp_path / "one", tiny_model_dir, alfworld_data, 1)
    assert result["students_skipped"] == []
    assert len(result["usage"]) == result["steps_run"] and all(u["wall_s"] > 0 for u in result["usage"])
    assert not any(u["worker"] for u in result["usage"])  # all in this process
    trained = {json.loads(p.read_text())["regime"] for p in (tmp_path / "one" / "train").glob("*/metrics.json")}
    assert trained == {"bc", "sft", "distill"}
    evaluated = [json.loads(p.read_text()) for p in (tmp_path / "one" / "eval").glob("*/metrics.json")]
    assert len(evaluated) == 2 and all(m["n_episodes"] == 2 for m in evaluated)
    table = (Path(result["run"]) / "table.md").read_text()
    rows = {cells[0]: cells[1:4] for line in table.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert not [r for r in ("Base", "RAG", "SFT", "Distill") if "-" in rows[r]], table  # success, steps, tokens
    assert report.caution(2) in table

    two = _pipeline(tmp_path / "two", tiny_model_dir, alfworld_data, 2)
    assert all(u["worker"] for u in two["usage"]) and len(two["usage"]) == result["steps_run"]
    one_made, two_made = store.made(tmp_path / "one"), store.made(tmp_path / "two")
    assert len(one_made) > 12 and one_made == two_made


@pytest.mark.slow
def test_a_ranking_decision_pipeline_trains_each_student_on_twenty_decisions(tmp_path: Path, alfworld_data: Path,
                                                                             tiny_model_dir: Path) -> None:
    """The small presets' shape (agent.act=rank, agent.prompt=decision, the warm start on one example
    per decision) with tiny settings: every turn is one of the game's own commands, so no episode is
    dropped for an invalid action, and 5 train games of 5 turns give each student 25 decisions."""
    cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), WARM, "mode=pipeline",
                   "agent=act", "agent.act=rank", "agent.prompt=decision", "agent.fewshot=0",
                   "agent.skip_unchanged=true", f"extractor.model.path={tiny_model_dir}",
                   "extractor.model.gguf_file=null", "extractor.model.name=tiny-random", "hints.max_new_tokens=8",
                   "retrieval=tfidf", "demos.per_category=1", "warm_start.epochs=1", "pipeline.train_episodes=5",
                   "n_episodes=2", "pipeline.max_steps=5", "train.min_reward=0", "train.eval_fraction=0",
                   f"backend.cache_dir={tmp_path / 'cache'}", f"extractor.backend.cache_dir={tmp_path / 'cache'}")
    result = run_mode(cfg)
    assert result["students_skipped"] == []
    manifests = {m["regime"]: m for m in (json.loads(p.read_text()) for p in (tmp_path / "train").glob("*/manifest.json"))}
    assert set(manifests) == {"bc", "sft", "distill"}
    assert all(manifests[r]["train_examples"] >= 20 and manifests[r]["dropped"] == {} for r in ("sft", "distill"))
    played = [json.loads(line) for p in (tmp_path / "rollout").glob("*/trajectories.jsonl")
              for line in p.read_text().splitlines()]
    assert played and all(s["finish_reason"] == "rank" for r in played for s in r["trace"])
    table = (Path(result["run"]) / "table.md").read_text()
    assert "| Reference |" in table and "| Distill - SFT |" in table
