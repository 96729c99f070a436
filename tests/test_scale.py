"""Scale: experiment presets compose for every sweep point; shards split, write apart and merge."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import CONF, make_cfg, tiny_overrides
from hydra import compose, initialize_config_dir

from hintrag import store
from hintrag.errors import ConfigError
from hintrag.shards import Shard
from hintrag.stages import run_mode

PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def sweep_points(preset: str) -> list[list[str]]:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"experiment={preset}"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params or {}
    axes = [[f"{key}={v}" for v in str(values).split(",")] for key, values in params.items()]
    return [list(point) for point in itertools.product(*axes)]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_at_every_sweep_point(preset: str) -> None:
    for point in sweep_points(preset):  # [[]] for a preset without a sweep
        cfg = make_cfg(f"experiment={preset}", *point, "env.data_dir=/d")
        assert store.run_key(cfg.mode if cfg.mode != "pipeline" else "rollout", cfg)


def test_paper_grids_cover_two_agents_and_two_scales() -> None:
    assert sorted(" ".join(p) for p in sweep_points("paper_alfworld")) == [
        "agent=react model=14b", "agent=react model=7b", "agent=stateact model=14b", "agent=stateact model=7b"]
    assert len(sweep_points("paper_webshop")) == 4 and [p[0] for p in sweep_points("k_sweep")] == [
        "k=1", "k=3", "k=6", "k=9"]
    cfg = make_cfg("experiment=paper_alfworld", "agent=stateact", "model=7b", "env.data_dir=/d")
    assert (cfg.n_episodes, cfg.split, cfg.max_steps, cfg.model.path) == (
        None, "valid_unseen", 99, "Qwen/Qwen2.5-7B-Instruct")
    # the authors' protocol (docs/fidelity.md, tests/test_fidelity.py): vLLM, 99 model calls run (thoughts count),
    # the stop at the 6th identical output, k=3, < 2 "Nothing happens."
    assert (cfg.backend.name, cfg.env.max_repeats, cfg.teacher.k, cfg.train.max_nothing_happens) == ("vllm", 6, 3, 1)
    for preset in ("paper_webshop", "k_sweep", "scale_sweep"):
        assert make_cfg(f"experiment={preset}").backend.name == "vllm"


def test_slurm_launcher_preset_takes_sizes_from_cluster() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm", "cluster.partition=gpu",
                                                       "cluster.gpus=2"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.max_num_timeout) == ("gpu", 2, 3)


def test_shards_are_deterministic_disjoint_and_complete() -> None:
    items = list(range(10))
    parts = [Shard(i, 3).select(items) for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]] and sorted(sum(parts, [])) == items
    with pytest.raises(ConfigError, match="shard=3"):
        run_mode(make_cfg("shard=3", "num_shards=3", "env.data_dir=/d"))


def test_shards_write_apart_and_merge_names_missing_ones(tmp_path: Path, tiny_model_dir: Path,
                                                         alfworld_data: Path) -> None:
    base = tiny_overrides(tiny_model_dir, alfworld_data, tmp_path) + ["mode=rollout", "n_episodes=3", "max_steps=1"]
    run_mode(make_cfg(*base, "shard=0", "num_shards=2"))
    folder = tmp_path / "rollout" / store.run_key("rollout", make_cfg(*base))
    assert sorted(p.name for p in folder.glob("trajectories*")) == ["trajectories.shard0of2.jsonl"]
    with pytest.raises(ConfigError, match=r"shard\(s\) 1 of 2 are missing or unfinished.*shard=<i> num_shards=2"):
        run_mode(make_cfg(*base, "num_shards=2"))
    run_mode(make_cfg(*base, "shard=1", "num_shards=2"))
    merged = run_mode(make_cfg(*base, "num_shards=2"))
    assert merged["n_episodes"] == 3
    assert json.loads((folder / "metrics.json").read_text())["n_episodes"] == 3  # the merge writes the run's metrics
    assert sorted(p.name for p in folder.glob("metrics*")) == ["metrics.json", "metrics.shard0of2.json",
                                                               "metrics.shard1of2.json"]
    ids = [json.loads(line)["episode_id"] for f in sorted(folder.glob("trajectories*.jsonl"))
           for line in f.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 3
    assert run_mode(make_cfg(*base))["n_episodes"] == 3  # an unsharded rerun finds all three, plays nothing


@pytest.mark.parametrize("preset,split,episodes,writer", [("small_alfworld", "valid_unseen", None, None),
                                                            ("small_webshop", "test", 100, "bc"),
                                                            ("quick_webshop", "test", 50, "bc")])
def test_small_presets_warm_start_the_embedded_model_and_evaluate_the_whole_split(preset: str, split: str,
                                                                               episodes: int | None,
                                                                               writer: str | None) -> None:
    """The agent is warm-started; the hint writer is too on WebShop, and is the plain model on ALFWorld,
    where the warm-started one answers extraction prompts with game actions."""
    cfg = make_cfg(f"experiment={preset}", "env.data_dir=/d")
    assert (cfg.mode, cfg.model.name, cfg.model.warm_start, cfg.extractor.model.warm_start) == (
        "pipeline", "smollm2-135m", "bc", writer)
    assert (cfg.split, cfg.n_episodes, cfg.agent.fewshot, cfg.demos.split) == (split, episodes, 0, "train")
    assert any(link.label == "warm start" for link, _ in store.upstream("rollout", cfg))
    for preset in ("paper_alfworld", "paper_webshop", "k_sweep", "scale_sweep"):  # 7B/14B: no warm start
        assert make_cfg(f"experiment={preset}").model.warm_start is None


@pytest.mark.parametrize("preset", ["small_alfworld", "small_webshop", "quick_webshop"])
def test_a_small_presets_demo_games_are_not_the_games_stage_a_and_the_teacher_play(
        preset: str, alfworld_data: Path, webshop_data: Path) -> None:
    from hintrag.scripted import demo_games
    from hintrag.envs import make_suite

    cfg = make_cfg(f"experiment={preset}")
    data = {"alfworld": alfworld_data, "webshop": webshop_data}[cfg.env.name]
    suite = make_suite(store.with_values(cfg, {"env.data_dir": str(data)}).env)
    demos = {s.id for s in demo_games(suite, cfg.demos.split, int(cfg.demos.per_category))}
    played = {s.id for s in suite.episodes(cfg.hints.source_split)[: cfg.pipeline.train_episodes]}
    assert len(demos) == cfg.demos.per_category * len(suite.categories) and len(played) == cfg.pipeline.train_episodes
    assert not demos & played and cfg.hints.source_split == cfg.demos.split == cfg.train.source_split == "train"
