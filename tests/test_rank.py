"""agent.act=rank: the hf backend scores candidate answers on the prompt's cache exactly as a plain
forward pass would, the rollout takes the best of the env's own actions, and backends that cannot
score refuse before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import WEBSHOP_DATA, make_cfg
from omegaconf import open_dict

from hintrag.agents import make_agent
from hintrag.envs import make_suite
from hintrag.episodes import Limits, play, ranked
from hintrag.errors import ConfigError
from hintrag.llm import Completion, make_backend
from hintrag.llm.base import RankRequest, Ranking, answer_ids, chat_prompt_text
from hintrag.llm.tokentree import TokenTree
from hintrag.validate import validate_common

CHAT = [{"role": "system", "content": "You are shopping. Answer with one action."},
        {"role": "user", "content": "Instruction: a blue mug [SEP] Back to Search [SEP] B0000000M2 [SEP] Blue Mug"}]
CANDIDATES = ["click[Back to Search]", "click[B0000000M2]", "click[Next >]", "click[Buy Now]", "click[12 oz]",
              "click[B0000000M2] again", "click[< Prev]"]


def tiny_backend(model_dir: Path, prefix_cache: bool = True):
    cfg = make_cfg(f"backend.prefix_cache={prefix_cache}", "backend.device=cpu", "backend.dtype=float32")
    with open_dict(cfg):
        cfg.model.path, cfg.model.gguf_file, cfg.model.name = str(model_dir), None, "tiny"
    return make_backend(cfg.backend, cfg.model, cfg.generation)


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path):
    return tiny_backend(tiny_model_dir)


def alone(backend, messages: list, candidate: str) -> float:
    """The candidate's summed log-probability from one uncached forward pass over prompt + answer."""
    text = chat_prompt_text(backend.tokenizer, messages)
    prompt = backend.tokenizer(text, add_special_tokens=False).input_ids
    answer = answer_ids(backend.tokenizer, text, prompt, candidate)
    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([prompt + answer])).logits[0]
    logp = torch.log_softmax(logits[len(prompt) - 1: -1].float(), dim=-1)
    return float(logp.gather(1, torch.tensor(answer)[:, None]).sum())


def test_cached_batched_scores_equal_each_candidate_scored_alone(backend) -> None:
    ranking, = backend.rank([RankRequest(CHAT, CANDIDATES)])
    expected = [alone(backend, CHAT, c) for c in CANDIDATES]
    assert ranking.logprobs == pytest.approx(expected, abs=1e-4)
    assert ranking.best == max(range(len(expected)), key=expected.__getitem__)
    assert ranking.finish_reason == "rank" and ranking.prompt_tokens == backend.count_prompt_tokens(CHAT)


def test_more_candidates_than_one_chunk_and_a_prefix_are_scored_apart(backend) -> None:
    """A candidate that is a prefix of another is scored with its end-of-turn token, so the two differ."""
    many = [f"click[option {i}]" for i in range(40)] + ["click[B0000000M2]"]
    ranking, = backend.rank([RankRequest(CHAT, many)])
    assert len(ranking.logprobs) == 41
    assert ranking.logprobs[-1] == pytest.approx(alone(backend, CHAT, many[-1]), abs=1e-4)
    short, longer = backend.rank([RankRequest(CHAT, CANDIDATES[1:2]), RankRequest(CHAT, CANDIDATES[5:6])])
    assert short.logprobs[0] != longer.logprobs[0]


def test_a_session_reuses_its_prompt_cache_and_scores_the_same(backend, tiny_model_dir: Path) -> None:
    plain = tiny_backend(tiny_model_dir, prefix_cache=False)
    later = CHAT + [{"role": "assistant", "content": "click[B0000000M2]"}, {"role": "user", "content": "Blue Mug [SEP] Buy Now"}]
    first, = backend.rank([RankRequest(CHAT, CANDIDATES, session="s")])
    second, = backend.rank([RankRequest(later, CANDIDATES, session="s")])
    fresh, = plain.rank([RankRequest(later, CANDIDATES, session="s")])
    assert first.prefill_tokens == first.prompt_tokens
    assert second.prefill_tokens < second.prompt_tokens - first.prompt_tokens + 2
    assert second.logprobs == pytest.approx(fresh.logprobs, abs=1e-4)
    backend.release("s")


def test_a_prompt_that_cannot_hold_the_answers_is_cut_for_context(tiny_model_dir: Path) -> None:
    small = tiny_backend(tiny_model_dir)
    small.max_context = small.count_prompt_tokens(CHAT) + 2
    ranking, = small.rank([RankRequest(CHAT, CANDIDATES)])
    assert ranking.finish_reason == "context"
    assert ranked(ranking, CANDIDATES).finish_reason == "context"


def test_shared_prefixes_are_one_position_and_each_answer_reads_its_own_path() -> None:
    """`go to` of two commands is computed once; an answer that is another's prefix keeps its own end."""
    tree = TokenTree.of(9, [[1, 2, 3, 0], [1, 2, 4, 0], [1, 2, 0], [5, 0]])
    assert tree.tokens == [9, 1, 2, 3, 4, 5]  # inputs: 9 then each answer but its last token
    assert tree.parents == [-1, 0, 1, 2, 2, 0] and tree.depths == [0, 1, 2, 3, 3, 1]
    assert tree.paths == [[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 2], [0, 5]]
    visible = tree.ancestry()
    assert [j for j in range(6) if visible[4][j]] == [0, 1, 2, 4]  # not its sibling 3
    assert [j for j in range(6) if visible[5][j]] == [0, 5]


def test_a_token_tree_scores_what_separate_rows_score(backend) -> None:
    """Commands sharing long prefixes (a game's `go to X n`) score as each alone, duplicates included."""
    commands = [f"go to {place} {n}" for place in ("cabinet", "countertop") for n in range(1, 8)]
    commands += ["take apple 1 from countertop 2", "take apple 1 from countertop 2", "look"]
    ranking, = backend.rank([RankRequest(CHAT, commands)])
    assert ranking.logprobs == pytest.approx([alone(backend, CHAT, c) for c in commands], abs=1e-4)


def test_a_ranking_becomes_the_best_candidate_with_its_answer_tokens() -> None:
    turn = ranked(Ranking([-3.0, -1.0, -1.0], [4, 6, 2], 100, 10), ["a", "b", "c"])
    assert (turn.text, turn.completion_tokens, turn.prompt_tokens, turn.finish_reason) == ("b", 6, 100, "rank")


@pytest.mark.parametrize("backend_name", ["openai", "vllm"])
def test_backends_that_cannot_score_refuse_rank(backend_name: str) -> None:
    cfg = make_cfg("mode=rollout", f"backend={backend_name}", "agent=act", "agent.act=rank")
    with pytest.raises(ConfigError, match="agent.act=rank .* backend=hf"):
        validate_common(cfg, ("rollout",))


def test_stateact_cannot_rank_and_decision_prompts_need_no_example() -> None:
    cfg = make_cfg("env=webshop", "agent=stateact", "agent.act=rank")
    with pytest.raises(ConfigError, match="agent=act or react"):
        make_agent(cfg.agent, cfg.env)
    cfg = make_cfg("env=webshop", "agent=act", "agent.prompt=decision", "agent.fewshot=1")
    with pytest.raises(ConfigError, match="agent.fewshot=0"):
        make_agent(cfg.agent, cfg.env)


class StandIn:
    """A ranker whose scores are fixed by the text (longest candidate best); writes a search query."""

    def __init__(self) -> None:
        self.ranked: list[list[str]] = []

    def generate(self, requests: list) -> list[Completion]:
        return [Completion("search[blue ceramic mug]", 10, 5, "eos") for _ in requests]

    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        self.ranked += [r.candidates for r in requests]
        return [Ranking([float(len(c)) for c in r.candidates], [3] * len(r.candidates), 10) for r in requests]

    def release(self, session: str) -> None:
        pass


def test_a_ranking_agent_takes_the_best_of_the_pages_own_actions(webshop_data: Path) -> None:
    cfg = make_cfg("env=webshop", f"env.data_dir={webshop_data}", "agent=act", "agent.act=rank",
                   "agent.fewshot=0", "split=valid")
    suite = make_suite(cfg.env)
    records = []
    stand_in = StandIn()
    play(suite.episodes("valid")[:2], suite, make_agent(cfg.agent, cfg.env), stand_in, Limits(4, 5), 2,
         on_finish=records.append)
    assert len(records) == 2 and stand_in.ranked
    steps = [s for rec in records for s in rec.trace]
    assert all(rec.trace[0].finish_reason == "eos" for rec in records)  # the search page offers no choice: written
    assert all(s.action == "search[blue ceramic mug]" for s in steps if s.finish_reason == "eos")
    chosen = sorted(s.action for s in steps if s.finish_reason == "rank")
    assert chosen == sorted(max(c, key=len) for c in stand_in.ranked)  # each the argmax of what its page offered
    assert all(c.startswith("click[") for page in stand_in.ranked for c in page)


class Stubborn(StandIn):
    """Prefers the last candidate (on an item page an option value) every time it is asked."""

    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        self.ranked += [r.candidates for r in requests]
        return [Ranking([float(i) for i in range(len(r.candidates))], [3] * len(r.candidates), 10) for r in requests]


@pytest.mark.parametrize("skip", [False, True])
def test_skip_unchanged_leaves_out_what_changed_nothing_since_the_page_did(webshop_data: Path, skip: bool) -> None:
    cfg = make_cfg("env=webshop", f"env.data_dir={webshop_data}", "agent=act", "agent.act=rank",
                   "agent.fewshot=0", f"agent.skip_unchanged={skip}")
    suite, records, engine = make_suite(cfg.env), [], Stubborn()
    play(suite.episodes("valid")[:3], suite, make_agent(cfg.agent, cfg.env), engine, Limits(8, 9), 3,
         on_finish=records.append)
    again = 0  # actions taken once more while the page stayed as it was
    for rec in records:
        observations = [rec.initial_observation] + [s.observation for s in rec.trace]
        tried: list[str] = []
        for t, step in enumerate(rec.trace):
            again += step.finish_reason == "rank" and step.action in tried
            tried = tried + [step.action] if observations[t + 1] == observations[t] else []
    assert (again == 0) == skip  # the stubborn ranker repeats itself unless the guard stops it
