"""The hf backend: prefix reuse changes nothing but the work done; token counts are the tokenizer's."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_cfg
from omegaconf import open_dict

from hintrag.llm import Request, make_backend


def backend_for(model_dir: Path, prefix_cache: bool = True, gguf: bool = False):
    cfg = make_cfg(f"backend.prefix_cache={prefix_cache}", "backend.device=cpu")
    if not gguf:
        with open_dict(cfg):
            cfg.model.path, cfg.model.gguf_file, cfg.model.name = str(model_dir), None, "tiny"
    return make_backend(cfg.backend, cfg.model, cfg.generation)


SYSTEM = {"role": "system", "content": "You are a robot. Answer with one command."}


def conversation(backend, sessions: bool) -> list:
    """Three steps of two interleaved chats of different lengths, batched together."""
    chats = {
        "a": [SYSTEM, {"role": "user", "content": "You see a fridge 1. Your task is to: cool an apple."}],
        "b": [SYSTEM, {"role": "user", "content": "A long room description " * 20 + "Your task: find a book."}],
    }
    outputs = []
    for step in range(3):
        names = ["a", "b"] if step else ["a"]
        reqs = [Request(chats[n], 12, ("\n",), n if sessions else None) for n in names]
        for name, out in zip(names, backend.generate(reqs)):
            outputs.append(out)
            chats[name] = chats[name] + [{"role": "assistant", "content": out.text.split("\n")[0].strip()},
                                         {"role": "user", "content": f"Observation {step}: nothing happens."}]
    return outputs


@pytest.fixture(scope="module")
def tiny_backends(tiny_model_dir: Path):
    return backend_for(tiny_model_dir, True), backend_for(tiny_model_dir, False)


def test_prefix_reuse_gives_identical_outputs_with_less_prefill(tiny_backends) -> None:
    cached, plain = tiny_backends
    with_reuse, without = conversation(cached, True), conversation(plain, True)
    assert [o.text for o in with_reuse] == [o.text for o in without]
    assert [o.prompt_tokens for o in with_reuse] == [o.prompt_tokens for o in without]
    a0, a1, b1, a2, b2 = with_reuse  # first calls of a session prefill everything, later ones only the new turn
    assert a0.prefill_tokens == a0.prompt_tokens and b1.prefill_tokens == b1.prompt_tokens
    for later, earlier in ((a1, a0), (a2, a1), (b2, b1)):
        assert later.prefill_tokens <= later.prompt_tokens - earlier.prompt_tokens
    assert all(o.prefill_tokens == o.prompt_tokens for o in without)


def test_a_batch_answers_what_each_row_answers_alone(tiny_backends) -> None:
    """Rows prefill alone and decode together: batch size and neighbours change no answer."""
    for backend in tiny_backends:
        chats = [[SYSTEM, {"role": "user", "content": "A shelf " * n + "Your task: find a book."}] for n in (1, 40, 7)]
        batched = backend.generate([Request(c, 12, ("\n",)) for c in chats])
        alone = [backend.generate([Request(c, 12, ("\n",))])[0] for c in chats]
        assert [(o.text, o.completion_tokens) for o in batched] == [(o.text, o.completion_tokens) for o in alone]


def test_token_counts_match_the_tokenizer(tiny_backends) -> None:
    backend = tiny_backends[0]
    tok = backend.tokenizer
    messages = [SYSTEM, {"role": "user", "content": "hello there"}]
    out = backend.generate([Request(messages, 10, (), None)])[0]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert out.prompt_tokens == len(tok(text, add_special_tokens=False).input_ids)
    assert out.completion_tokens == len(tok(out.text, add_special_tokens=False).input_ids) + (out.finish_reason == "eos")
    assert out.completion_tokens <= 10


def test_context_limit_is_reported_not_raised(tiny_model_dir: Path) -> None:
    cfg = make_cfg("model.max_context=64")
    with open_dict(cfg):
        cfg.model.path, cfg.model.gguf_file = str(tiny_model_dir), None
    backend = make_backend(cfg.backend, cfg.model, cfg.generation)
    out = backend.generate([Request([{"role": "user", "content": "word " * 100}], 8)])[0]
    assert out.finish_reason == "context" and out.completion_tokens == 0 and out.prompt_tokens > 64


@pytest.mark.slow
def test_embedded_model_prefix_reuse_is_exact(embedded_model_dir: Path) -> None:
    cached, plain = backend_for(embedded_model_dir, True, gguf=True), backend_for(embedded_model_dir, False, gguf=True)
    a, b = conversation(cached, True), conversation(plain, True)
    assert [o.text for o in a] == [o.text for o in b]
    chats = [[SYSTEM, {"role": "user", "content": "You see a shelf 1. " * n + "Your task is to: find a book."}]
             for n in (1, 30, 5)]
    batched = plain.generate([Request(c, 16, ("\n",)) for c in chats])
    assert [o.text for o in batched] == [plain.generate([Request(c, 16, ("\n",))])[0].text for c in chats]
    assert any(o.finish_reason in ("stop", "eos") for o in a)
