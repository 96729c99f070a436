"""What every LLM backend takes and returns, so rollouts do not care which engine runs the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Message = dict[str, str]
ERROR = "error"  # Completion.finish_reason of a request that failed after the backend's retries


@dataclass
class Request:
    """One chat completion. `session` names an episode whose earlier prompt prefix may be reused."""

    messages: list[Message]
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    session: str | None = None
    json_schema: dict | None = None  # ask for JSON of this shape where the engine can enforce it


@dataclass
class Completion:
    """A model answer with exact token accounting.

    `text` is everything the model generated (special tokens removed), including the stop string
    if one ended it. `completion_tokens` counts the generated tokens, the end-of-turn token
    included when `finish_reason == "eos"`. `prefill_tokens` is what the engine actually had to
    encode for the prompt after prefix reuse (for benchmarks; not a cost).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # eos | stop | length | context | error (failed after the backend's retries)
    prefill_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def chat_prompt_text(tokenizer: Any, messages: list[Message]) -> str:
    """The chat-templated prompt, ending where the model's answer starts."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def chat_prompt_ids(tokenizer: Any, messages: list[Message]) -> list[int]:
    """Token ids of the chat-templated prompt, as both local engines count and feed them."""
    return tokenizer(chat_prompt_text(tokenizer, messages), add_special_tokens=False).input_ids


def answer_ids(tokenizer: Any, prompt_text: str, prompt: list[int], answer: str) -> list[int]:
    """The tokens of `answer` as the assistant turn after `prompt`, then the end-of-turn token.

    Tokenized together with the prompt, as a training chat is, and cut after the prompt's tokens;
    where the joint tokenization merges across that boundary, the answer is tokenized alone.
    """
    joint = tokenizer(prompt_text + answer, add_special_tokens=False).input_ids
    own = joint[len(prompt):] if joint[: len(prompt)] == prompt else tokenizer(answer, add_special_tokens=False).input_ids
    return own + [tokenizer.eos_token_id]


@dataclass
class RankRequest:
    """Score each candidate answer to a chat by the model's log-probability (agent.act=rank).

    A candidate is scored as the whole assistant turn: its text and the end-of-turn token, as the
    training template renders an answer, so a candidate that is a prefix of another is not favoured.
    """

    messages: list[Message]
    candidates: list[str]
    session: str | None = None


@dataclass
class Ranking:
    """Each candidate's summed log-probability and answer tokens, with the prompt's accounting."""

    logprobs: list[float]
    tokens: list[int]  # answer tokens of each candidate, end-of-turn included
    prompt_tokens: int
    prefill_tokens: int = 0
    finish_reason: str = "rank"  # rank | context (the prompt and the longest candidate do not fit)

    @property
    def best(self) -> int:
        """The first candidate of highest log-probability (ties keep the env's order)."""
        return max(range(len(self.logprobs)), key=lambda i: (self.logprobs[i], -i))


class LocalTokens:
    """Prompt tokens for engines that tokenize here (hf, vllm): one counting rule and one context
    check, so both engines count and cut the same way. Needs `tokenizer` and `max_context`."""

    tokenizer: Any
    max_context: int

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages)

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return len(self.prompt_ids(messages))

    def rank_inputs(self, req: RankRequest) -> tuple[list[int], list[list[int]], Ranking | None]:
        """Prompt ids and each candidate's answer ids; a "context" ranking where they do not fit."""
        text = chat_prompt_text(self.tokenizer, req.messages)
        prompt = self.tokenizer(text, add_special_tokens=False).input_ids
        answers = [answer_ids(self.tokenizer, text, prompt, c) for c in req.candidates]
        if len(prompt) + max(map(len, answers)) > self.max_context:
            return prompt, answers, Ranking([float("-inf")] * len(answers), [len(a) for a in answers], len(prompt),
                                            finish_reason="context")
        return prompt, answers, None

    def fit_context(self, requests: list[Request]) -> tuple[list[list[int]], list[int], list[Completion | None]]:
        """Prompt ids of every request, the indices that fit the context with their answer, and
        results holding a "context" completion for each one that does not (None elsewhere)."""
        ids = [self.prompt_ids(r.messages) for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        runnable = []
        for i, (req, prompt) in enumerate(zip(requests, ids)):
            if len(prompt) + req.max_new_tokens > self.max_context:
                results[i] = Completion("", len(prompt), 0, "context")
            else:
                runnable.append(i)
        return ids, runnable, results


class Backend(Protocol):
    """An engine that completes many chats in one call."""

    def generate(self, requests: list[Request]) -> list[Completion]:
        """Complete every request; results in the same order."""
        ...

    def release(self, session: str) -> None:
        """Forget a finished session's cached prefix."""
        ...

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens of the chat-templated prompt, as `generate` would count them."""
        ...


class Ranker(Backend, Protocol):
    """A backend that can also score given answers (agent.act=rank); RANKERS names them."""

    def rank(self, requests: list[RankRequest]) -> list[Ranking]:
        """Every request's candidates scored; results in the same order."""
        ...


RANKERS = ("hf",)  # backends that are Rankers; validate refuses agent.act=rank on the others
