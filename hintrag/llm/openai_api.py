"""Backend for any OpenAI-compatible chat endpoint: OpenAI (GPT-4o), a vLLM server, `transformers serve`.

The key is read from the environment variable named by `backend.api_key_env` at call time and is
never stored in the config, the run store or logs. Retries with exponential backoff are the
`openai` client's own (`max_retries`); requests run concurrently in a thread pool. A request
that still fails after the retries (HTTP errors, timeouts, refused connections, a broken body)
comes back as a Completion with finish_reason "error" and the message in `extra["error"]`, never
as a crash of the whole batch. Structured output asks for a JSON schema first and falls back to JSON mode, then to plain text, the first
time a server rejects one of them.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.llm.base import ERROR, Completion, Message, Request

log = logging.getLogger(__name__)

FORMATS = ("json_schema", "json_object", "text")  # tried in this order when a request wants JSON


def api_key(backend: DictConfig) -> str:
    """The key from the named environment variable; local servers accept any placeholder."""
    name = backend.api_key_env
    key = os.environ.get(name) if name else None
    if key:
        return key
    if backend.require_key:
        raise ConfigError(f"environment variable {name} is not set; export {name}=... (the key is never put in config)")
    return "EMPTY"


class OpenAIBackend:
    """Chat completions over HTTP with exact usage accounting from the server's response."""

    def __init__(self, model: DictConfig, backend: DictConfig, generation: DictConfig) -> None:
        import openai

        self._openai = openai
        self.model = str(model.served_name or model.path)
        self.temperature = float(generation.temperature)
        self.top_p = float(generation.top_p)
        self.concurrency = int(backend.concurrency)
        self.client = openai.OpenAI(
            base_url=backend.base_url, api_key=api_key(backend),
            max_retries=int(backend.max_retries), timeout=float(backend.timeout_s),
        )
        self._formats = list(FORMATS) if backend.structured_output == "auto" else [backend.structured_output, "text"]
        self._formats_lock = threading.Lock()  # requests run in a thread pool and share the fallback

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        raise NotImplementedError("token counts of a remote model come from its responses (Completion.prompt_tokens)")

    def release(self, session: str) -> None:
        """Servers cache prefixes themselves (vLLM's automatic prefix caching); nothing to free here."""

    def generate(self, requests: list[Request]) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(requests)))) as pool:
            return list(pool.map(self._one, requests))

    def _response_format(self, req: Request, kind: str) -> dict | None:
        if req.json_schema is None or kind == "text":
            return None
        if kind == "json_object":
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": req.json_schema, "strict": False}}

    def _one(self, req: Request) -> Completion:
        while True:
            kind = self._formats[0] if req.json_schema is not None else "text"
            kwargs = {"response_format": fmt} if (fmt := self._response_format(req, kind)) else {}
            try:
                resp = self.client.chat.completions.create(
                    model=self.model, messages=req.messages, max_tokens=req.max_new_tokens,
                    temperature=self.temperature, top_p=self.top_p, stop=list(req.stop) or None, **kwargs,
                )
            except self._openai.BadRequestError as err:
                if kind != "text" and len(self._formats) > 1:
                    log.warning("server rejected response_format=%s (%s); falling back", kind, err.message[:120])
                    with self._formats_lock:
                        if self._formats[0] == kind:  # a concurrent request may have fallen back already
                            self._formats.pop(0)
                    continue
                return self._error(f"bad request: {err.message[:300]}")
            except (self._openai.APIError, ValueError) as err:  # retries exhausted, or a body that is not JSON
                return self._error(f"{type(err).__name__}: {str(err)[:300]}")
            try:
                return self._completion(resp)
            except (AttributeError, IndexError, TypeError) as err:  # a 200 whose JSON lacks the fields
                return self._error(f"malformed response: {err}")

    @staticmethod
    def _error(message: str) -> Completion:
        """A request that failed after the client's retries: the caller decides (an episode is marked errored)."""
        log.warning("request failed after retries: %s", message)
        return Completion("", 0, 0, ERROR, extra={"error": message})

    @staticmethod
    def _completion(resp) -> Completion:
        choice = resp.choices[0]
        usage = resp.usage
        reason = {"stop": "eos", "length": "length"}.get(choice.finish_reason or "", choice.finish_reason or "eos")
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=int(usage.prompt_tokens) if usage else 0,
            completion_tokens=int(usage.completion_tokens) if usage else 0,
            finish_reason=reason,
            prefill_tokens=int(usage.prompt_tokens) if usage else 0,
        )
