"""One-shot hint retrieval at episode start, from the task's category (`retrieval=` group).

- `none`: no hints (the base agent).
- `tfidf`, `bm25`: lexical similarity between the task and each hint of the category.
- `llm_rerank` (the paper's): an LLM (the agent's own, or `retrieval.model` on a second engine, as
  the authors' separate 4-bit 7B) sees the category's hints numbered and answers
  `{"answer": [indices]}`; fewer than k valid indices are padded with the rest in bank order
  (`retrieval.pad`; the authors' WebShop code did not pad); an unusable answer falls back to
  `tfidf` or to the category's first k hints (`retrieval.fallback=first`, the authors' code).
  Its tokens are the episode's retrieval tokens.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from omegaconf import DictConfig, OmegaConf

from hintrag.errors import ConfigError
from hintrag.hints.hintbank import Bank, Hint
from hintrag.llm import make_backend
from hintrag.llm.base import Backend, Request

log = logging.getLogger(__name__)

RETRIEVERS = ("none", "tfidf", "bm25", "llm_rerank")
FALLBACKS = ("tfidf", "first")  # llm_rerank's choice when the answer is unusable
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object", "properties": {"answer": {"type": "array", "items": {"type": "integer"}}}, "required": ["answer"],
}


@dataclass
class Retrieved:
    hints: list[Hint] = field(default_factory=list)
    method: str = "none"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback: bool = False  # the LLM answer was unusable and retrieval.fallback chose instead
    raw: str = ""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Retriever(Protocol):
    def retrieve(self, task: str, category: str, k: int) -> Retrieved: ...


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class _Lexical:
    """Rank a category's hints against the task by a lexical score; ties keep bank order."""

    method = "lexical"

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    def scores(self, task: str, hints: Sequence[Hint]) -> list[float]:
        raise NotImplementedError

    def rank(self, task: str, category: str) -> list[Hint]:
        hints = self.bank.by_category(category)
        if not hints:
            return []
        scores = self.scores(task, hints)
        order = sorted(range(len(hints)), key=lambda i: (-scores[i], i))
        return [hints[i] for i in order]

    def retrieve(self, task: str, category: str, k: int) -> Retrieved:
        return Retrieved(self.rank(task, category)[:k], self.method)


class TfidfRetriever(_Lexical):
    method = "tfidf"

    def scores(self, task: str, hints: Sequence[Hint]) -> list[float]:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import linear_kernel

        vectorizer = TfidfVectorizer(tokenizer=_tokens, lowercase=False, token_pattern=None)
        matrix = vectorizer.fit_transform([h.text for h in hints] + [task])
        return linear_kernel(matrix[-1], matrix[:-1]).ravel().tolist()


class BM25Retriever(_Lexical):
    """Lucene-style BM25 (English analyzer, Porter stems), the engine the product search uses too (hintrag.textsearch)."""

    method = "bm25"

    def scores(self, task: str, hints: Sequence[Hint]) -> list[float]:
        from hintrag.textsearch import BM25

        found = {hit.doc_id: hit.score for hit in BM25([(h.id, h.text) for h in hints]).hits(task, len(hints))}
        return [found.get(h.id, 0.0) for h in hints]


class NoRetriever:
    def retrieve(self, task: str, category: str, k: int) -> Retrieved:
        return Retrieved()


def rerank_messages(task: str, hints: Sequence[Hint], k: int) -> list[dict[str, str]]:
    listing = "\n".join(f"{i}. {h.text}" for i, h in enumerate(hints))
    system = ("You choose which general rules will help an agent with a task. Reply with JSON only: "
              '{"answer": [indices]}, the most useful first.')
    user = f"Task: {task}\n\nRules:\n{listing}\n\nChoose the {k} most useful rules by their index."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_indices(raw: str, n: int) -> list[int]:
    """Valid, unique indices from an `{"answer": [...]}` reply, in the model's order; [] if unusable."""
    import json_repair

    start = raw.find("{")
    data = json_repair.loads(raw[start:]) if start >= 0 else None
    values = data.get("answer") if isinstance(data, dict) else None
    if not isinstance(values, list):
        return []
    out: list[int] = []
    for value in values:
        try:
            index = int(str(value).strip())
        except ValueError:
            continue
        if 0 <= index < n and index not in out:
            out.append(index)
    return out


class LLMRerankRetriever:
    method = "llm_rerank"

    def __init__(self, bank: Bank, backend: Backend, max_new_tokens: int, pad: bool = True,
                 fallback: str = "tfidf") -> None:
        self.bank = bank
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.pad = pad
        self.fallback = TfidfRetriever(bank) if fallback == "tfidf" else None  # None: the first k in bank order

    def _fallback(self, task: str, category: str, k: int) -> list[Hint]:
        if self.fallback is None:
            return self.bank.by_category(category)[:k]
        return self.fallback.rank(task, category)[:k]

    def retrieve(self, task: str, category: str, k: int) -> Retrieved:
        hints = self.bank.by_category(category)
        if not hints:
            return Retrieved(method=self.method)
        req = Request(rerank_messages(task, hints, k), self.max_new_tokens, json_schema=ANSWER_SCHEMA)
        out = self.backend.generate([req])[0]
        chosen = parse_indices(out.text, len(hints))[:k]
        result = Retrieved(method=self.method, prompt_tokens=out.prompt_tokens,
                           completion_tokens=out.completion_tokens, raw=out.text)
        if not chosen:
            result.hints, result.fallback = self._fallback(task, category, k), True
            return result
        padding = [i for i in range(len(hints)) if i not in chosen][: k - len(chosen)] if self.pad else []
        result.hints = [hints[i] for i in chosen + padding]
        return result


def make_retriever(retrieval: DictConfig, bank: Bank | None, backend: Backend | None) -> Retriever:
    name = retrieval.name
    if name == "none":
        return NoRetriever()
    if bank is None:
        raise ConfigError(f"retrieval={name} needs a hint bank")
    if name == "tfidf":
        return TfidfRetriever(bank)
    if name == "bm25":
        return BM25Retriever(bank)
    if name == "llm_rerank":
        if backend is None:
            raise ConfigError("retrieval=llm_rerank needs an LLM backend")
        fallback = str(retrieval.get("fallback", "tfidf"))
        if fallback not in FALLBACKS:
            raise ConfigError(f"retrieval.fallback={fallback!r}; choose one of {', '.join(FALLBACKS)}")
        return LLMRerankRetriever(bank, backend, int(retrieval.max_new_tokens), bool(retrieval.get("pad", True)),
                                  fallback)
    raise ConfigError(f"unknown retrieval {name!r}; choose one of {', '.join(RETRIEVERS)} (retrieval=...)")


def reranker_engine(cfg: DictConfig) -> DictConfig | None:
    """The separate re-ranker as {model, backend, generation}, the shape make_backend and
    validate_model read: retrieval.model on a second engine of the agent's backend kind, with
    retrieval.backend's keys over the agent's (a 4-bit load, a memory share). None: the agent's
    own engine re-ranks (retrieval.model=null; validate_common allows it with llm_rerank only)."""
    model = OmegaConf.select(cfg, "retrieval.model")
    if model is None:
        return None
    plain = lambda node: OmegaConf.to_container(node, resolve=True) if node is not None else {}  # noqa: E731
    backend = {**plain(cfg.backend), **plain(cfg.retrieval.get("backend"))}
    return OmegaConf.create({"model": plain(model), "backend": backend, "generation": plain(cfg.generation)})


def rerank_backend(cfg: DictConfig, agent: Backend) -> Backend:
    """The engine the re-ranker asks: the agent's own, or retrieval.model loaded as a second engine
    (its tokens are the episode's retrieval tokens either way)."""
    engine = reranker_engine(cfg)
    if engine is None:
        return agent
    log.info("re-ranking hints with %s on a second %s engine", engine.model.name, engine.backend.name)
    return make_backend(engine.backend, engine.model, engine.generation)


def hint_record(retrieved: Retrieved) -> dict[str, Any]:
    """What a teacher trajectory keeps about its retrieval."""
    return {
        "method": retrieved.method, "fallback": retrieved.fallback, "tokens": retrieved.tokens,
        "hints": [{"id": h.id, "text": h.text} for h in retrieved.hints], "raw": retrieved.raw,
    }


__all__ = ["Retrieved", "Retriever", "make_retriever", "hint_record", "parse_indices", "rerank_backend",
           "reranker_engine", "RETRIEVERS"]
