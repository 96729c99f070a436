"""agent.prompt=decision: one training example per turn, built by the very function that builds the
play-time prompt; the loss reads the action only; the chat presets render as before (a byte test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg
from test_train import teacher_record
from test_webshop_agents import DESCRIPTION, EXAMPLE, ITEM, RESULTS_1, TASK

from hintrag.agents import make_agent
from hintrag.envs import make_suite
from hintrag.envs.webshop.state import decision_view
from hintrag.llm import Completion
from hintrag.llm.base import RankRequest, Ranking
from hintrag.records import StepRecord
from hintrag.episodes import Limits, play
from hintrag.training import data
from hintrag.training.template import CHATML_TRAINING

GOLDEN = ROOT / "tests" / "golden" / "paper_prompts.json"
START = EXAMPLE.initial_observation


def decision_agent(*overrides: str):
    cfg = make_cfg("env=webshop", "agent=act", "agent.prompt=decision", "agent.fewshot=0", *overrides)
    return make_agent(cfg.agent, cfg.env)


def test_the_state_shows_the_instruction_the_actions_the_options_and_the_page_once() -> None:
    turns = [("search[blue mug]", RESULTS_1), ("click[B0000000M2]", ITEM), ("click[12 oz]", ITEM)]
    view = decision_view(START, turns, 200)
    lines = view.splitlines()
    assert lines[:4] == [f"Instruction: {TASK}", "Actions so far: search[blue mug] | click[B0000000M2] | click[12 oz]",
                         "Current page: item B0000000M2", "Options chosen: 12 oz"]
    assert lines[4].startswith("Page: Back to Search | < Prev | size | 8 oz | 12 oz | Blue Mug") and view.count(TASK) == 1
    assert decision_view(START, [], 200).splitlines()[1:] == ["Actions so far: none", "Current page: search",
                                                             "Options chosen: none", "Page: Search"]


def test_options_are_forgotten_on_leaving_the_item_and_an_invalid_answer_keeps_the_page() -> None:
    turns = [("search[blue mug]", RESULTS_1), ("click[B0000000M2]", ITEM), ("click[12 oz]", ITEM),
             ("click[Description]", DESCRIPTION), ("click[Reviews now]", "Invalid action!")]
    view = decision_view(START, turns, 200).splitlines()
    assert view[2:5] == ["Current page: item B0000000M2 description", "Options chosen: 12 oz",
                         "Last answer: Invalid action!"]
    assert view[5] == "Page: Back to Search | < Prev | A sturdy blue ceramic mug."
    view = decision_view(START, turns[:3] + [("click[< Prev]", RESULTS_1)], 200).splitlines()
    assert view[2:4] == ["Current page: results page 1", "Options chosen: none"]


def test_the_page_is_cut_to_its_word_budget() -> None:
    page = decision_view(START, [("search[blue mug]", RESULTS_1)], 5).splitlines()[-1]
    assert page == "Page: Back to Search | Page ..."  # "|" counts as a word


def test_each_turn_is_one_example_whose_prompt_is_the_play_prompt() -> None:
    agent = decision_agent()
    rec = teacher_record(agent, "webshop", "act")
    examples = data.to_examples(rec, agent)
    trace = [StepRecord(**s) for s in rec["trace"]]
    opening = agent.opening(rec["initial_observation"], rec["category"], hints=(), fewshot=False)
    assert len(examples) == len(trace) == 3
    for t, example in enumerate(examples):
        assert example.messages[:-1] == agent.messages(opening, trace[:t], hints=False)
        assert example.messages[-1] == {"role": "assistant", "content": agent.turn_text(trace[t].output)}
        assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
        assert not any(h in json.dumps(example.messages) for h in ("ZQX", agent.cfg.hint_header))


def test_the_loss_reads_the_action_and_its_end_token_only(embedded_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model_dir)
    agent = decision_agent()
    for example in data.to_examples(teacher_record(agent, "webshop", "act"), agent):
        out = tok.apply_chat_template(example.messages, chat_template=CHATML_TRAINING, tokenize=True,
                                      return_dict=True, return_assistant_tokens_mask=True)
        marked = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
        assert tok.decode(marked) == example.messages[-1]["content"] + "<|im_end|>"


class Recorder:
    """A stand-in engine that keeps every prompt it is sent: it searches, then takes the last choice."""

    def __init__(self) -> None:
        self.prompts: dict[str, list[list[dict]]] = {}

    def generate(self, requests: list) -> list[Completion]:
        for r in requests:
            self.prompts.setdefault(r.session, []).append(r.messages)
        return [Completion("search[blue ceramic mug]", 1, 1, "eos") for _ in requests]

    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        for r in requests:
            self.prompts.setdefault(r.session, []).append(r.messages)
        return [Ranking([0.0] * (len(r.candidates) - 1) + [1.0], [1] * len(r.candidates), 1) for r in requests]

    def release(self, session: str) -> None:
        pass


@pytest.mark.parametrize("act", ["rank", "generate"])
def test_play_and_training_prompts_of_a_turn_are_byte_identical(webshop_data: Path, act: str) -> None:
    cfg = make_cfg("env=webshop", f"env.data_dir={webshop_data}", "agent=act", "agent.prompt=decision",
                   "agent.fewshot=0", f"agent.act={act}")
    suite, agent, engine, records = make_suite(cfg.env), make_agent(cfg.agent, cfg.env), Recorder(), []
    play(suite.episodes("valid")[:2], suite, agent, engine, Limits(5, 9), 2, on_finish=records.append,
         fewshot=False)
    for rec in records:
        examples = data.to_examples(rec.to_dict(), agent)
        sent = engine.prompts[rec.episode_id]
        assert len(examples) == len(sent) == rec.steps
        for example, prompt in zip(examples, sent):
            assert json.dumps(example.messages[:-1]) == json.dumps(prompt)


def test_a_held_out_episode_takes_all_its_turns_along() -> None:
    examples = [data.Example(f"e{i}", "c", [{"role": "user", "content": f"{i}/{t}"}]) for i in range(10) for t in range(3)]
    train, held = data.split(examples, 0.2, 0)
    assert len(held) == 6 and len({e.episode_id for e in held}) == 2
    assert not {e.episode_id for e in held} & {e.episode_id for e in train}
    assert [e.messages[0]["content"][-1] for e in held] == ["0", "1", "2"] * 2  # turns in order


def test_the_chat_presets_render_their_training_chats_and_prompts_as_before() -> None:
    """tests/golden/paper_prompts.json was written by the code before decision prompts existed, when
    every preset showed one example (paper_alfworld now shows two: tests/test_fewshot.py)."""
    golden = json.loads(GOLDEN.read_text())
    for key, expected in golden.items():
        preset, name = key.split("/")
        env = "alfworld" if preset.endswith("alfworld") else "webshop"
        cfg = make_cfg(f"experiment={preset}", f"agent={name}", "agent.fewshot=1")
        agent = make_agent(cfg.agent, cfg.env)
        rec = teacher_record(agent, env, name)
        example, = data.to_examples(rec, agent)
        trace = [StepRecord(**s) for s in rec["trace"]]
        assert json.dumps(example.messages, sort_keys=True) == json.dumps(expected["train"], sort_keys=True), key
        played = agent.messages(rec["prompt"], trace[:2])
        assert json.dumps(played, sort_keys=True) == json.dumps(expected["play"], sort_keys=True), key
