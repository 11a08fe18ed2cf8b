"""A real local HTTP server for tests: answers from a script, records what it received."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: dict | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    trickle_s: float = 0.0  # pause between body bytes: defeats a socket read timeout


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


class HttpTarget:
    """Replies are taken in order from ``script``; when it runs dry, ``default`` answers."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.default = Reply(200, {"id": "X-1"})
        self.received: list[Received] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                target.received.append(
                    Received(
                        self.command,
                        self.path,
                        dict(self.headers),
                        json.loads(raw) if raw else None,
                    )
                )
                reply = target.script.popleft() if target.script else target.default
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload.encode())))
                    self.end_headers()
                    if reply.trickle_s:
                        for byte in payload.encode():
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle_s)
                    else:
                        self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def __enter__(self) -> HttpTarget:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
