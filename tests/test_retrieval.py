"""Retrievers: none, tfidf, bm25, and the LLM re-ranker with its padding and fallback."""

from __future__ import annotations

import pytest
from conftest import make_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from hintrag.errors import ConfigError
from hintrag.hints.hintbank import Bank, Hint
from hintrag.hints.retrieval import make_retriever, parse_indices
from hintrag.llm.base import Completion, Request

HINTS = [
    Hint("heat-0000", "Close the microwave after heating.", "ordering", "heat"),
    Hint("heat-0001", "Take the mug before you go to the microwave.", "precondition", "heat"),
    Hint("heat-0002", "Heat {object} with {microwave}, not the stoveburner.", "affordance", "heat"),
    Hint("heat-0003", "Look inside the fridge for an apple.", "best-practice", "heat"),
    Hint("put-0000", "Put the cd on any shelf.", "goal-clarification", "put"),
]
BANK = Bank(HINTS)
TASK = "find a clean mug for the cabinet."


class Scripted:
    """A stand-in LLM that answers with fixed text and reports token usage like a backend."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.requests: list[Request] = []

    def generate(self, requests: list[Request]) -> list[Completion]:
        self.requests += requests
        return [Completion(self.text, 100, 7, "eos") for _ in requests]

    def release(self, session: str) -> None: ...


def retriever(name: str, backend=None):
    return make_retriever(make_cfg(f"retrieval={name}").retrieval, BANK, backend)


def test_none_gives_nothing() -> None:
    got = retriever("none").retrieve(TASK, "heat", 3)
    assert got.hints == [] and got.tokens == 0


@pytest.mark.parametrize("name", ["tfidf", "bm25"])
def test_lexical_retrievers_rank_related_hints_first_and_stay_in_category(name: str) -> None:
    got = retriever(name).retrieve(TASK, "heat", 2)
    assert [h.id for h in got.hints][0] == "heat-0001"  # shares "mug"
    assert all(h.category == "heat" for h in got.hints) and len(got.hints) == 2 and got.tokens == 0
    assert retriever(name).retrieve(TASK, "clean", 3).hints == []  # empty category


def test_llm_rerank_uses_the_models_order_and_counts_tokens() -> None:
    llm = Scripted('{"answer": [2, 0, 1]}')
    got = retriever("llm_rerank", llm).retrieve(TASK, "heat", 3)
    assert [h.id for h in got.hints] == ["heat-0002", "heat-0000", "heat-0001"]
    assert (got.prompt_tokens, got.completion_tokens, got.tokens, got.fallback) == (100, 7, 107, False)
    listing = llm.requests[0].messages[-1]["content"]
    assert "0. Close the microwave" in listing and "put the cd" not in listing.lower()
    assert llm.requests[0].json_schema is not None


def test_llm_rerank_pads_fewer_than_k_in_bank_order() -> None:
    got = retriever("llm_rerank", Scripted('{"answer": [3]}')).retrieve(TASK, "heat", 3)
    assert [h.id for h in got.hints] == ["heat-0003", "heat-0000", "heat-0001"] and not got.fallback


@pytest.mark.parametrize("answer", ["no idea", '{"answer": []}', '{"answer": [17, -1, "x"]}', '{"choice": 1}'])
def test_llm_rerank_falls_back_to_tfidf(answer: str) -> None:
    got = retriever("llm_rerank", Scripted(answer)).retrieve(TASK, "heat", 2)
    assert got.fallback and [h.id for h in got.hints] == [h.id for h in retriever("tfidf").retrieve(TASK, "heat", 2).hints]
    assert got.tokens == 107  # the failed call still cost tokens


def test_the_authors_webshop_rerank_does_not_pad_and_falls_back_to_the_first_k() -> None:
    """retrieval.pad=false, retrieval.fallback=first (paper_webshop): fewer than k indices stay fewer;
    an unusable answer gives the category's first k hints in bank order, as their code did."""
    cfg = make_cfg("retrieval=llm_rerank", "retrieval.pad=false", "retrieval.fallback=first").retrieval
    got = make_retriever(cfg, BANK, Scripted('{"answer": [3]}')).retrieve(TASK, "heat", 3)
    assert [h.id for h in got.hints] == ["heat-0003"] and not got.fallback
    got = make_retriever(cfg, BANK, Scripted("no idea")).retrieve(TASK, "heat", 3)
    assert got.fallback and [h.id for h in got.hints] == ["heat-0000", "heat-0001", "heat-0002"]
    with pytest.raises(ConfigError, match="retrieval.fallback"):
        make_retriever(make_cfg("retrieval.fallback=bm25").retrieval, BANK, Scripted(""))


def test_parse_indices_dedups_and_bounds() -> None:
    assert parse_indices('```json\n{"answer": ["2", 2, 1, 9]}\n```', 3) == [2, 1]


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=0, max_value=20))
def test_parse_indices_never_raises(raw: str, n: int) -> None:
    out = parse_indices(raw, n)
    assert all(0 <= i < n for i in out) and len(set(out)) == len(out)
