"""Iterated imitation: round r of the warm start (warm_start.round) trains on the demos plus the
held-out train games the round r - 1 agent won (mode=imitate); each round is its own keyed run,
never an evaluation game, and a rerun resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_cfg, tiny_overrides
from test_limits import SPEC, Room, Script
from test_train import teacher_record

from hintrag import store
from hintrag.agents import make_agent
from hintrag.artifacts import trajectories
from hintrag.envs import Failures, Observation, make_suite
from hintrag.envs.webshop.env import WebShopSuite
from hintrag.episodes import Limits, play
from hintrag.errors import ConfigError
from hintrag.scripted import demo_games
from hintrag.stages import run_mode
from hintrag.stages.imitate import imitation_games
from hintrag.stages.pipeline import steps
from hintrag.store import open_run, upstream, with_values
from hintrag.training import data
from hintrag.warmstart import round_curve

WARM = "model.warm_start=bc"


def chain(stage: str, cfg) -> list[str]:
    """Every upstream run of `stage`, depth first, as 'stage@round'."""
    out = []
    for link, up in upstream(stage, cfg):
        rounds = {"train": up.train.round, "imitate": up.warm_start.round}
        out.append(f"{link.stage}@{rounds[link.stage]}" if link.stage in rounds else link.stage)
        out += chain(link.stage, up)
    return out


def test_round_zero_is_the_plain_warm_start_and_each_round_reads_the_one_before() -> None:
    plain = make_cfg("env.data_dir=/d", WARM)
    assert store.run_key("rollout", plain) == store.run_key("rollout", make_cfg("env.data_dir=/d", WARM,
                                                                                "warm_start.round=0"))
    two = make_cfg("env.data_dir=/d", WARM, "warm_start.round=2")
    assert chain("rollout", two) == ["train@2", "demos", "imitate@1", "train@1", "demos", "imitate@0",
                                     "train@0", "demos"]
    assert store.run_key("rollout", two) != store.run_key("rollout", plain)
    one = make_cfg("env.data_dir=/d", WARM, "warm_start.round=1")
    (_, r1), = [(link, up) for link, up in upstream("rollout", one) if link.stage == "train"]
    imitate = [up for link, up in upstream("train", r1) if link.stage == "imitate"][0]
    assert imitate.split == "train" and imitate.warm_start.round == 0 and imitate.model.warm_start == "bc"
    assert store.run_key("train", with_values(imitate, {"train.regime": "bc"})) != store.run_key("train", r1)


def test_the_pipeline_plans_every_round() -> None:
    plan = steps(make_cfg("env.data_dir=/d", WARM, "warm_start.round=2"))
    rounds = [(s.mode, s.cfg.warm_start.round) for s in plan if s.mode == "imitate"]
    assert rounds == [("imitate", 0), ("imitate", 1)]
    trains = [s for s in plan if s.mode == "train" and s.cfg.train.regime == "bc"]
    assert sorted(s.cfg.train.round for s in trains) == [0, 1, 2]


def test_imitation_games_are_neither_demos_nor_stage_a_games(alfworld_data: Path) -> None:
    cfg = make_cfg(f"env.data_dir={alfworld_data}", "demos.per_category=20", "pipeline.train_episodes=120",
                   "imitation.games=300")
    suite = make_suite(cfg.env)
    games = imitation_games(suite, cfg)
    stage_a = {s.id for s in suite.episodes("train")[:120]}
    demos = {s.id for s in demo_games(suite, "train", 20)}
    assert len(games) == len({s.id for s in games}) == 300
    assert all(s.id.startswith("train/") for s in games)
    assert not {s.id for s in games} & (stage_a | demos)
    with pytest.raises(ConfigError, match="lower imitation.games"):
        imitation_games(suite, with_values(cfg, {"imitation.games": 5000}))


def test_imitate_refuses_a_plain_model_and_an_evaluation_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.warm_start=bc"):
        run_mode(make_cfg("mode=imitate", f"store.root={tmp_path}", "env.data_dir=/d", "split=train"))
    with pytest.raises(ConfigError, match="split=train"):
        run_mode(make_cfg("mode=imitate", f"store.root={tmp_path}", "env.data_dir=/d", WARM))


def _records(agent, prefix: str, won: list[bool]) -> list[dict]:
    out = []
    for i, success in enumerate(won):
        rec = teacher_record(agent, "alfworld", "act")
        rec.update(episode_id=f"train/{prefix}{i}", success=success, reward=float(success), retrieval=None)
        out.append(rec)
    return out


def test_a_round_trains_on_the_demos_and_the_won_games_of_the_round_before(tmp_path: Path) -> None:
    (tmp_path / "store.json").write_text('{"schema": 1}')
    one = make_cfg("env.data_dir=/d", WARM, "warm_start.round=1", f"store.root={tmp_path}", "agent=act")
    (_, train_cfg), = [(link, up) for link, up in upstream("rollout", one) if link.stage == "train"]
    agent = make_agent(train_cfg.agent, train_cfg.env)
    for (link, up), (prefix, won) in zip(store.inputs("train", train_cfg), [("demo", [True, False]),
                                                                            ("game", [True, False, True])]):
        run = open_run(link.stage, up, tmp_path)
        for rec in _records(agent, prefix, won):
            run.append("trajectories.jsonl", rec)
    key, records = trajectories("train", train_cfg, tmp_path)
    assert key.count("+") == 1 and len(records) == 5
    examples, dropped = data.build(records, agent, data.Keep.from_config(train_cfg.train, train_cfg.env), str)
    assert sorted({e.episode_id for e in examples}) == ["train/demo0", "train/game0", "train/game2"]


@pytest.mark.slow
def test_a_round_plays_trains_and_resumes_with_a_tiny_model(tmp_path: Path, alfworld_data: Path,
                                                           tiny_model_dir: Path) -> None:
    common = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "demos.per_category=1", "warm_start.epochs=1",
              f"backend.cache_dir={tmp_path / 'cache'}", "max_steps=2", "imitation.games=2", "imitation.after=6",
              "warm_start.min_reward=0", "train.eval_fraction=0", "agent=act"]
    run_mode(make_cfg(*common, "mode=demos"))
    run_mode(make_cfg(*common, "mode=train", "train.regime=bc", "train.epochs=1", "train.lr=3e-4",
                      "train.max_length=2048", "train.min_reward=0"))
    first = run_mode(make_cfg(*common, WARM, "mode=imitate", "split=train"))
    assert first["n_episodes"] == 2 and first["last_session"]["episodes"] == 2
    again = run_mode(make_cfg(*common, WARM, "mode=imitate", "split=train"))  # resumes: nothing left to play
    assert again["n_episodes"] == 2 and again["run"] == first["run"] and again["last_session"] == first["last_session"]
    out = run_mode(make_cfg(*common, "mode=train", "train.regime=bc", "train.round=1", "train.epochs=1",
                            "train.lr=3e-4", "train.max_length=2048", "train.min_reward=0"))
    assert out["episodes_read"] == 6 + 2 and "+" in out["source_run"]  # 6 demos (one per type) + 2 games
    played = run_mode(make_cfg(*common, WARM, "warm_start.round=1", "mode=rollout", "n_episodes=1"))
    assert played["n_episodes"] == 1
    labelled = [*common, "imitation.label=expert"]  # DAgger: the same games, every turn labelled by the expert
    games = run_mode(make_cfg(*labelled, WARM, "mode=imitate", "split=train"))
    assert games["run"] != first["run"]
    records = store.Run("imitate", "", Path(games["run"])).records("trajectories.jsonl")
    assert all(r["trace"][0]["expert"] == "" for r in records)  # at the start ALFWorld's expert only looks
    assert all(len(r["trace"]) < 2 or r["trace"][1]["expert"] for r in records)
    dagger = run_mode(make_cfg(*labelled, "mode=train", "train.regime=bc", "train.round=1", "train.epochs=1",
                               "train.lr=3e-4", "train.max_length=2048", "train.min_reward=0"))
    assert dagger["episodes_read"] == 6 + 2 and dagger["run"] != out["run"]
    assert "not_successful" not in dagger["dropped"]  # a labelled game teaches its labels, won or lost


def test_rounds_go_on_while_success_improves_and_the_best_is_chosen() -> None:
    played: list[int] = []

    def success(at: dict[int, float]):
        def measure(round_: int) -> float:
            played.append(round_)
            return at[round_]
        return measure

    assert round_curve(success({0: 0.1, 1: 0.2, 2: 0.15, 3: 0.9}), 3) == ([0.1, 0.2, 0.15], 1)
    assert played == [0, 1, 2]  # round 3 is never made
    assert round_curve(success({0: 0.1, 1: 0.1}), 3) == ([0.1, 0.1], 0)  # a tie does not improve
    assert round_curve(success({0: 0.0, 1: 0.1, 2: 0.2}), 2) == ([0.0, 0.1, 0.2], 2)
    assert round_curve(success({0: 0.3}), 0) == ([0.3], 0)


def test_expert_labels_pool_the_imitation_games_of_every_earlier_round() -> None:
    def imitated(label: str) -> list[int]:
        two = make_cfg("env.data_dir=/d", WARM, "warm_start.round=2", f"imitation.label={label}")
        (_, train_cfg), = [(link, up) for link, up in upstream("rollout", two) if link.stage == "train"]
        ups = [up for link, up in upstream("train", train_cfg) if link.stage == "imitate"]
        assert all(up.imitation.label == label for up in ups)
        return [up.warm_start.round for up in ups]

    assert imitated("won") == [1]
    assert imitated("expert") == [0, 1]  # DAgger: the labels of all rounds so far


def test_imitate_refuses_an_unknown_label_and_an_env_whose_expert_starts_from_scratch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="imitation.label='dagger'"):
        run_mode(make_cfg("mode=imitate", f"store.root={tmp_path}", "env.data_dir=/d", WARM, "split=train",
                          "imitation.label=dagger"))
    cfg = make_cfg("env=webshop", "imitation.label=expert")
    with pytest.raises(ConfigError, match="imitation.label=won"):
        imitation_games(WebShopSuite.__new__(WebShopSuite), cfg)  # refused before any goal is read
    with pytest.raises(ConfigError, match="imitation.label=won"):
        WebShopSuite.make(WebShopSuite.__new__(WebShopSuite), SPEC, expert=True)


class LabelledRoom(Room):
    """A game whose expert would send "expert <n>" from its n-th state."""

    def reset(self) -> Observation:
        return Observation(super().reset().text, expert="expert 0")

    def step(self, action: str) -> Observation:
        obs = super().step(action)
        return Observation(obs.text, done=obs.done, expert=f"expert {len(self.sent)}")


class LabelledHouse:
    name, categories, failures, scored = "fake", (SPEC.category,), Failures(nothing="Nothing happens."), False

    def __init__(self) -> None:
        self.room, self.asked = LabelledRoom(), []

    def make(self, spec, expert: bool = False):
        self.asked.append(expert)
        return self.room


def test_each_turn_records_the_experts_command_from_the_state_it_was_taken_in() -> None:
    records, house = [], LabelledHouse()
    cfg = make_cfg()
    play([SPEC], house, make_agent(cfg.agent, cfg.env), Script(["go to desk 1", "open drawer 1", "look"]),
         Limits(3, 5), 1, on_finish=records.append, fewshot=False, expert=True)
    (record,) = records
    assert house.asked == [True]
    assert [s.expert for s in record.trace] == ["expert 0", "expert 1", "expert 2"]
    assert [s.action for s in record.trace] == ["go to desk 1", "open drawer 1", "look"]  # the agent's own


def _labelled(agent, episode_id: str, turns: list[tuple[str, str, str]], won: bool) -> dict:
    """An imitation game: (agent's command, the game's answer, the expert's command before it) per turn."""
    rec = teacher_record(agent, "alfworld", "act")
    rec.update(episode_id=episode_id, success=won, reward=float(won), retrieval=None,
               initial_observation="You are in the middle of a room. Looking quickly around you, you see a desk 1, "
                                   "and a drawer 1.\n\nYour task is to: put some mug on desk.")
    rec["trace"] = [{**rec["trace"][0], "output": a, "action": a, "observation": o, "expert": e} for a, o, e in turns]
    return rec


def test_labelled_turns_teach_the_experts_command_won_or_lost_each_state_once() -> None:
    cfg = make_cfg("env.data_dir=/d", "agent=act", "agent.prompt=decision", "agent.fewshot=0", "agent.act=rank",
                   "agent.recent_turns=1")
    agent = make_agent(cfg.agent, cfg.env)
    desk, drawer = "You arrive at desk 1. On the desk 1, you see nothing.", "You arrive at drawer 1. It is closed."
    loop = _labelled(agent, "train/loop", [("go to desk 1", desk, "go to drawer 1"),
                                           ("go to drawer 1", drawer, "open drawer 1"),
                                           ("go to desk 1", desk, "go to desk 1"),
                                           ("go to drawer 1", drawer, "open drawer 1"),  # turn 1's state again
                                           ("go to desk 1", desk, "")], won=False)  # the expert marked time
    unlabelled_loss = _records(agent, "lost", [False])[0]
    examples, dropped = data.build([unlabelled_loss, loop], agent, data.Keep.from_config(cfg.train, cfg.env), str)
    assert [e.messages[-1]["content"] for e in examples] == ["go to drawer 1", "open drawer 1", "go to desk 1"]
    assert all(e.episode_id == "train/loop" for e in examples)
    assert dropped == {"not_successful": 1, "repeated_state": 1}
    assert [m["role"] for m in examples[1].messages] == ["system", "user", "assistant"]
    assert "go to desk 1" in examples[1].messages[1]["content"]  # the agent's own turn is the state


def test_alfworld_experts_labels_win_from_states_it_never_reached(alfworld_data: Path) -> None:
    import random

    suite = make_suite(make_cfg(f"env.data_dir={alfworld_data}").env)
    for spec in suite.episodes("valid_seen")[:2]:
        plain = suite.make(spec)
        assert plain.reset().expert == ""
        plain.close()
        game, rng = suite.make(spec, expert=True), random.Random(spec.id)
        obs, sent = game.reset(), 0
        while not obs.done and sent < 60:  # three random commands first, then the labels (a random one where none)
            obs = game.step(obs.expert if sent >= 3 and obs.expert else rng.choice(obs.choices))
            assert obs.expert == "" or obs.expert in obs.choices
            sent += 1
        game.close()
        assert obs.won


@pytest.mark.parametrize("script", ["round_curve.py", "demo_curve.py"])
def test_the_warm_start_curves_refuse_the_evaluation_split(script: str) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "experiments" / script), "experiment=small_alfworld",
                           "env.data_dir=/d", "split=valid_unseen"], capture_output=True, text=True, cwd=root)
    assert done.returncode != 0 and "evaluation split; choose settings on another" in done.stderr
