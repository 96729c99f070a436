"""The `openai` backend against a real OpenAI-compatible server: `transformers serve` on the
embedded model, started here on loopback. Also checks that an API key never reaches a file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg, tiny_overrides
from omegaconf import open_dict

from hintrag.llm import Request, make_backend

pytestmark = pytest.mark.slow
SECRET = "sk-hintrag-test-9f8e7d6c5b4a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(embedded_model_dir: Path):
    port = free_port()
    serve = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen(
        [str(serve), "serve", str(embedded_model_dir), "--device", "cpu", "--dtype", "float32",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("transformers serve exited before it was ready")
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("transformers serve did not come up in 180 s")
    yield f"http://127.0.0.1:{port}/v1", str(embedded_model_dir)
    proc.terminate()
    proc.wait(timeout=30)


def backend_for(base_url: str, model_path: str, **backend: object):
    cfg = make_cfg("backend=openai", f"backend.base_url={base_url}", f"model.path={model_path}",
                   "model.gguf_file=null", "backend.max_retries=1", "backend.timeout_s=60")
    with open_dict(cfg):
        cfg.backend.update(backend)
    return make_backend(cfg.backend, cfg.model, cfg.generation)


def test_completions_with_usage_and_concurrency(server) -> None:
    backend = backend_for(*server)
    reqs = [Request([{"role": "user", "content": f"Count to {n}."}], 12) for n in range(4)]
    started = time.perf_counter()
    outs = backend.generate(reqs)
    assert len(outs) == 4 and all(o.text for o in outs)
    assert all(o.prompt_tokens > 5 and 0 < o.completion_tokens <= 12 for o in outs)
    assert all(o.finish_reason in ("eos", "length") for o in outs)
    assert time.perf_counter() - started < 120


def test_json_request_gets_an_answer_with_schema_or_fallback(server) -> None:
    backend = backend_for(*server)
    schema = {"type": "object", "properties": {"answer": {"type": "array", "items": {"type": "integer"}}}}
    out = backend.generate([Request([{"role": "user", "content": 'Reply {"answer": [1, 2]}'}], 24,
                                    json_schema=schema)])[0]
    assert out.completion_tokens > 0 and backend._formats  # a format was kept for later requests


def test_api_key_reaches_no_file(server, tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path) -> None:
    """Stage B through the openai backend with a key in the environment; then grep every file written."""
    base_url, model_path = server
    store = tmp_path / "store"
    common = tiny_overrides(tiny_model_dir, alfworld_data, store) + ["max_steps=2"]
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "HF_HUB_OFFLINE": "1"}

    def run(*args: str) -> None:
        proc = subprocess.run([sys.executable, "run.py", *common, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert SECRET not in proc.stdout + proc.stderr

    run("mode=rollout", "split=train", "n_episodes=2")
    run("mode=extract", "extractor=gpt-4o", f"extractor.backend.base_url={base_url}",
        f"extractor.model.path={model_path}", "extractor.model.served_name=null", "hints.max_new_tokens=32")
    files = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name == "proposals.jsonl" for p in files) and any(p.parent.name == ".hydra" for p in files)
    leaked = [p for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []
    assert any(b"OPENAI_API_KEY" in p.read_bytes() for p in files if p.name == "config.yaml")  # the name, not the key
