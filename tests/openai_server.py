"""A real OpenAI-compatible HTTP server on loopback, scripted by tests: faults on demand, answers by function.

`/v1/chat/completions` answers from `script` (then `always`): '429', '500', 'hang' (sleeps past
the client's timeout), 'truncated' (half a body) or 'ok'; a request whose response_format type
is in `reject_formats` gets HTTP 400. An 'ok' answer's text is `reply(request)`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client killed mid-request (the kill tests do that) is not a server error worth a traceback."""


class FaultServer:
    def __init__(self, reply: Callable[[dict[str, Any]], str] = lambda request: "look", delay_s: float = 0.0) -> None:
        self.script: list[str] = []
        self.always: str | None = None
        self.requests = 0
        self.reply = reply
        self.delay_s = delay_s
        self.reject_formats: set[str] = set()  # response_format types answered with HTTP 400
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None: ...

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests += 1
                behaviour = server.always or (server.script.pop(0) if server.script else "ok")
                if request.get("response_format", {}).get("type") in server.reject_formats:
                    behaviour = "400"
                time.sleep(3 if behaviour == "hang" else server.delay_s)
                if behaviour in ("400", "429", "500"):
                    self._send(int(behaviour), json.dumps({"error": {"message": f"injected {behaviour}"}}).encode())
                    return
                text = server.reply(request)
                full = json.dumps({
                    "id": "x", "object": "chat.completion", "created": 0, "model": request.get("model", "m"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}}).encode()
                self._send(200, full[: len(full) // 2] if behaviour == "truncated" else full)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def scripted_hints(request: dict[str, Any]) -> str:
    """Two hints per failure: one shared by the category (dedup absorbs it), one naming the task."""
    user = request["messages"][-1]["content"]
    category = re.search(r"Task category: (.*)", user).group(1)
    task = re.search(r"Task: (.*)", user).group(1).rstrip(".")
    return json.dumps({"hints": [
        {"text": f"Open every {{receptacle}} on the way when the task is {category}.", "type": "precondition"},
        {"text": f"Keep the goal in view: {task}.", "type": "goal-clarification"}]})
