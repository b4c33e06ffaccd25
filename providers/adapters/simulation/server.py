"""The threaded HTTP server every provider simulator runs on, with the fault knobs applied.

A simulator subclasses ``SimulatorServer`` and implements ``route(request)``: return the JSON
payload (or a ``SimResponse`` for another status, headers or a non-JSON body), or raise a
``SimulatedError`` whose ``body()`` is the provider's own error format. The base class does the
rest, the same way for every provider:

- the lifecycle: a ``ThreadingHTTPServer`` on a free port in a daemon thread (``start``/``stop``,
  or ``with``), ``url`` and ``port``; HTTP/1.1 keep-alive with TCP_NODELAY, as real APIs answer;
- faults (``inject``, see ``providers.adapters.simulation.faults``): 429 with Retry-After, 5xx,
  slow answers, bodies cut off mid-way, dropped connections, expired tokens and provider error
  envelopes, each rendered through an overridable hook (``rate_limited_error``,
  ``unavailable_error``, ``envelope_error``, ``expire_token``) in the provider's wire format;
- ``/_sim/...`` control endpoints for a running process: ``GET /_sim/health``, ``GET /_sim/stats``,
  ``POST /_sim/faults`` (a fault as JSON), ``DELETE /_sim/faults``; subclasses add their own in
  ``control()`` and call ``super().control()`` for the rest;
- per-path request counts (``stats``) and an optional latency added to every answer.

``handle_raw`` lets a simulator take a path over entirely (the Yandex simulator's S3 API speaks
XML with SigV4, not JSON).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from providers.adapters.simulation.faults import Fault, FaultPlan

CONTROL_PREFIX = "/_sim/"


@dataclass(slots=True)
class SimulatorStats:
    requests: int = 0
    by_path: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)


@dataclass(slots=True)
class SimRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # email.message.Message: case-insensitive .get()
    body: Any  # the decoded JSON body, or None (see ``raw`` for other content types)
    raw: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(slots=True)
class SimResponse:
    """An answer other than "200 with this JSON": another status, extra headers, raw bytes."""

    payload: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class SimulatedError(Exception):
    """An error answer. Subclasses give it the provider's shape by overriding ``body()``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> Any:
        return {"error": self.message}


class SimulatorServer:
    """Base of provider simulators (see the module docstring)."""

    server_version = "InfraZenSimulator/1.0"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0):
        self.host, self.port_wanted, self.latency_s = host, port, latency_s
        self.faults = FaultPlan()
        self.stats = SimulatorStats()
        self._stats_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self.port_wanted), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False  # a slow-answer fault must not hold up stop()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- knobs -----------------------------------------------------------------------------------

    def inject(self, fault: Fault | str, **options: Any) -> Fault:
        """Add a fault: ``inject("rate_limit", retry_after=2, times=3, path="/compute/")``."""
        if isinstance(fault, str):
            fault = Fault(fault, **options)
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- hooks for subclasses --------------------------------------------------------------------

    def route(self, request: SimRequest) -> Any:
        """The answer to one API request (see the module docstring)."""
        raise self.not_found_error(f"{request.method} {request.path} is not an API method")

    def handle_raw(self, handler: BaseHTTPRequestHandler, method: str, parts: SplitResult) -> bool:
        """Serve the request entirely (True) or leave it to the JSON pipeline (False)."""
        return False

    def not_found_error(self, message: str) -> SimulatedError:
        return SimulatedError(404, message)

    def bad_request_error(self, message: str) -> SimulatedError:
        return SimulatedError(400, message)

    def rate_limited_error(self, fault: Fault) -> SimulatedError:
        return SimulatedError(
            429, "Too many requests", headers={"Retry-After": f"{fault.retry_after:g}"}
        )

    def unavailable_error(self, fault: Fault) -> SimulatedError:
        return SimulatedError(fault.status, "Service is temporarily unavailable")

    def envelope_error(self, fault: Fault, request: SimRequest) -> SimResponse:
        """The provider's error answer sent with HTTP 200 (only some providers do this)."""
        return SimResponse({"error": fault.code or "ERROR"}, status=200)

    def expire_token(self, request: SimRequest) -> None:
        """The token the request carries stops working (an ``expire_token`` fault)."""

    def control(self, method: str, path: str, body: dict) -> Any:
        """``/_sim/...`` controls; subclasses handle theirs and defer to this for the rest."""
        if (method, path) == ("GET", "/_sim/health"):
            return {"ok": True}
        if (method, path) == ("GET", "/_sim/stats"):
            return {
                "requests": self.stats.requests,
                "by_path": dict(self.stats.by_path),
                "faults": dict(self.stats.faults),
                **self.stats_extra(),
            }
        if (method, path) == ("POST", "/_sim/faults"):
            try:
                return self.inject(Fault.from_dict(body)).to_dict()
            except (TypeError, ValueError) as exc:
                raise self.bad_request_error(str(exc)) from None
        if (method, path) == ("DELETE", "/_sim/faults"):
            self.clear_faults()
            return {}
        raise self.not_found_error(f"{method} {path} is not a simulator control")

    def stats_extra(self) -> dict[str, Any]:
        return {}

    def count_request(self, path: str, fault: Fault | None) -> None:
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_path[path] += 1
            if fault is not None:
                self.stats.faults[fault.kind] += 1


def _handler_for(sim: SimulatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a discovery run reuses one connection
        server_version = sim.server_version

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests run thousands of requests; access logs would drown their output

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            if sim.handle_raw(self, method, parts):
                return
            path, query = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = None
            if raw and "json" in (self.headers.get("Content-Type") or "application/json"):
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send_error(sim.bad_request_error("request body is not valid JSON"))
                    return
            if path.startswith(CONTROL_PREFIX):
                controls = body if isinstance(body, dict) else {}
                try:
                    self._send(200, sim.control(method, path, controls))
                except SimulatedError as exc:
                    self._send_error(exc)
                return
            request = SimRequest(method, path, query, self.headers, body, raw)
            fault = sim.faults.pick(path)
            sim.count_request(path, fault)
            if sim.latency_s:
                time.sleep(sim.latency_s)
            malformed = False
            if fault is not None:
                if fault.kind == "slow":
                    time.sleep(fault.delay)
                elif fault.kind == "disconnect":
                    self.close_connection = True
                    return
                elif fault.kind == "rate_limit":
                    self._send_error(sim.rate_limited_error(fault))
                    return
                elif fault.kind == "unavailable":
                    self._send_error(sim.unavailable_error(fault))
                    return
                elif fault.kind == "envelope_error":
                    self._answer(sim.envelope_error(fault, request))
                    return
                elif fault.kind == "expire_token":
                    sim.expire_token(request)
                elif fault.kind == "malformed":
                    malformed = True
            try:
                answer = sim.route(request)
            except SimulatedError as exc:
                self._send_error(exc)
                return
            self._answer(answer, truncate=malformed)

        def _answer(self, answer: Any, *, truncate: bool = False) -> None:
            if isinstance(answer, SimResponse):
                self._send(
                    answer.status,
                    answer.payload,
                    truncate=truncate,
                    headers=answer.headers,
                    content_type=answer.content_type,
                )
            else:
                self._send(200, answer, truncate=truncate)

        def _send_error(self, exc: SimulatedError) -> None:
            self._send(exc.status, exc.body(), headers=exc.headers)

        def _send(
            self,
            status: int,
            payload: Any,
            *,
            truncate: bool = False,
            headers: dict | None = None,
            content_type: str = "application/json",
        ) -> None:
            if isinstance(payload, bytes | bytearray):
                data = bytes(payload)
            else:
                data = json.dumps(payload, separators=(",", ":")).encode()
            if truncate:
                data = data[: max(1, len(data) // 2)]  # a body cut off mid-way, as by a proxy
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
