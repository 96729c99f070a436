"""Model-side faults against a real local OpenAI-compatible server made to fail on purpose.

HTTP 429 and 500, a server that hangs past the timeout, a refused connection, a truncated body:
the client retries with backoff; when retries run out the request comes back as an error, the
episode is marked errored (kept out of the trajectories, never scored as a failure) and a rerun
plays it again.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from conftest import make_cfg
from openai_server import FaultServer

from hintrag import store
from hintrag.llm import Request, make_backend
from hintrag.stages import run_mode


@pytest.fixture
def server():
    s = FaultServer()
    yield s
    s.close()


def backend(url: str, retries: int = 2, timeout: float = 1.0):
    cfg = make_cfg("backend=openai", f"backend.base_url={url}", f"backend.max_retries={retries}",
                   f"backend.timeout_s={timeout}", "model.path=m", "model.gguf_file=null")
    return make_backend(cfg.backend, cfg.model, cfg.generation)


def ask(b) -> object:
    return b.generate([Request([{"role": "user", "content": "hi"}], 4)])[0]


@pytest.mark.parametrize("faults", [["429"], ["500"], ["429", "500"], ["hang"]])
def test_transient_faults_are_retried_with_backoff(server: FaultServer, faults: list[str]) -> None:
    server.script = list(faults)
    out = ask(backend(server.url))
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason) == ("look", 11, 2, "eos")
    assert server.requests == len(faults) + 1


@pytest.mark.parametrize("fault,kind", [("500", "InternalServerError"), ("429", "RateLimitError"),
                                        ("hang", "APITimeoutError"), ("truncated", "")])
def test_exhausted_retries_come_back_as_an_error_not_a_crash(server: FaultServer, fault: str, kind: str) -> None:
    server.always = fault
    out = ask(backend(server.url, retries=1))
    assert out.finish_reason == "error" and out.text == "" and kind in out.extra["error"]
    assert server.requests == (1 if fault == "truncated" else 2)


def test_refused_connection_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    out = ask(backend(f"http://127.0.0.1:{port}/v1", retries=1))
    assert out.finish_reason == "error" and "APIConnectionError" in out.extra["error"]
    assert time.perf_counter() - started < 30


def test_errored_episodes_are_not_scored_and_are_played_on_the_next_run(server: FaultServer, tmp_path: Path,
                                                                        alfworld_data: Path) -> None:
    cfg = make_cfg("mode=rollout", "backend=openai", f"backend.base_url={server.url}", "backend.max_retries=1",
                   "backend.timeout_s=1", "model.path=m", "model.gguf_file=null", "model.name=fault-server",
                   "n_episodes=2", "max_steps=2", f"env.data_dir={alfworld_data}", f"store.root={tmp_path}")
    server.always = "500"
    summary = run_mode(cfg)
    folder = tmp_path / "rollout" / store.run_key("rollout", cfg)
    assert summary["n_episodes"] == 0 and summary["last_session"]["errored"] == 2
    assert not (folder / "trajectories.jsonl").exists()
    errors = [json.loads(line) for line in (folder / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == 2 and all("InternalServerError" in e["error"] for e in errors)

    server.always = None  # the server recovers: the rerun plays both episodes
    summary = run_mode(cfg)
    records = [json.loads(line) for line in (folder / "trajectories.jsonl").read_text().splitlines()]
    assert summary["n_episodes"] == 2 and len(records) == 2
    assert all(r["steps"] == 2 and r["end_reason"] == "max_steps" for r in records)


def test_extractor_failures_are_retried_on_the_next_run_not_counted_as_read(
    server: FaultServer, tmp_path: Path, alfworld_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fault-test")
    agent = ["backend=openai", f"backend.base_url={server.url}", "model.path=m", "model.gguf_file=null",
             "model.name=fault-server", "max_steps=2", f"env.data_dir={alfworld_data}", f"store.root={tmp_path}"]
    extractor = ["extractor=gpt-4o", f"extractor.backend.base_url={server.url}", "extractor.backend.max_retries=1",
                 "extractor.backend.timeout_s=1"]
    run_mode(make_cfg(*agent, *extractor, "mode=rollout", "split=train", "n_episodes=2"))  # 'look' twice: 2 failures
    cfg = make_cfg(*agent, *extractor, "mode=extract")
    server.always = "500"
    summary = run_mode(cfg)
    assert (summary["failures_read"], summary["failures_errored"], summary["hints_kept"]) == (0, 2, 0)
    assert not (tmp_path / "extract" / store.run_key("extract", cfg) / "proposals.jsonl").exists()

    server.always = None
    server.reply = lambda request: json.dumps({"hints": [{"text": "Open {receptacle} before you look inside.",
                                                          "type": "precondition"}]})
    summary = run_mode(cfg)
    assert (summary["failures_read"], summary["failures_errored"], summary["hints_kept"]) == (2, 0, 2)  # 2 categories


def test_concurrent_rejections_of_a_json_format_fall_back_one_format_only(server: FaultServer) -> None:
    server.reject_formats = {"json_schema"}
    server.delay_s = 0.3  # every request of the batch is in flight when the first 400 comes back
    b = backend(server.url)
    schema = {"type": "object", "properties": {"hints": {"type": "array"}}}
    outs = b.generate([Request([{"role": "user", "content": f"hi {i}"}], 4, json_schema=schema) for i in range(4)])
    assert all(o.finish_reason == "eos" for o in outs)
    assert b._formats == ["json_object", "text"]  # not straight to text: json_object was never tried and refused
