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


def chat_prompt_ids(tokenizer: Any, messages: list[Message]) -> list[int]:
    """Token ids of the chat-templated prompt, as both local engines count and feed them."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False).input_ids


class LocalTokens:
    """Prompt tokens for engines that tokenize here (hf, vllm): one counting rule and one context
    check, so both engines count and cut the same way. Needs `tokenizer` and `max_context`."""

    tokenizer: Any
    max_context: int

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages)

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return len(self.prompt_ids(messages))

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
