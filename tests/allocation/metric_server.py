"""A real local HTTP server answering JSON, for metric pulls (no mocks of our own code)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_server = None
_routes: dict[str, tuple[int, bytes]] = {}
_seq = iter(range(10**9))


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = _routes.get(self.path, (404, b'{"error": "not found"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _base() -> str:
    global _server
    if _server is None:
        _server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{_server.server_address[1]}"


def serve(body: bytes, status: int = 200) -> str:
    """A URL answering ``body`` with ``status``."""
    path = f"/metrics/{next(_seq)}"
    _routes[path] = (status, body)
    return _base() + path


def serve_json(payload, status: int = 200) -> str:
    return serve(json.dumps(payload).encode(), status)
