"""A Beget simulator: a real HTTP server speaking both of Beget's APIs (provider-apis.md §4).

**Hosting API** (``/api/<section>/<method>``, GET or POST, form-encoded or query parameters):
``login`` and ``passwd`` (the API password) on every call, ``output_format=json``; arguments, when
a method takes any, as ``input_format=json&input_data=<JSON>``. Every answer is HTTP 200 in the
double envelope ``{"status": "success", "answer": {"status": "success", "result": ...}}``; errors
come in its two styles, request-level ``{"status": "error", "error_code": "AUTH_ERROR", ...}`` and
method-level ``{"status": "success", "answer": {"status": "error", "errors": [...]}}``. Served:
``user/getAccountInfo``, ``site/getList``, ``domain/getList``, ``mysql/getList``,
``backup/getFileBackupList``, ``backup/getMysqlBackupList``; no paging (Beget sends whole lists).
Numbers come as numbers or strings, alternating by item (``mixed_types``).

**VPS API** (bearer token): ``POST /v1/auth`` ``{"login", "password", "saveMe"}`` -> ``{"token"}``
(a refusal is ``{"error": "INCORRECT_CREDENTIALS"}`` with HTTP 200, as the auth proto's oneof
renders), ``GET /v1/vps/server/list?offset=&limit=`` -> ``{"vps": [...], "total_count": N}``,
``GET /v1/vps/server/{id}`` -> ``{"vps": {...}}``, ``GET /v1/vps/statistic/cpu/{id}?period=``
-> ``{"cpu": {"date": [...], "value": [...]}}`` and ``GET /v1/vps/{id}/history`` ->
``{"history": [{"date", "type", "has_error"}]}`` (LTD-Beget/openapi-vps-go). Errors are the
gRPC-gateway ``{"code", "message", "details"}`` with an HTTP status (inferred: the spec gives no
error schema); 401 for a missing, unknown or expired token.

Money follows the inventory (``simulator_account``): the balance is what was paid in minus the
daily debits of the plan and the servers, and ``user_days_to_block`` what it still pays for.

From Python::

    with BegetSimulator(SimulatorConfig(servers=5)) as sim:
        adapter = BegetAdapter(sim.credentials, endpoints=sim.endpoints)
        sim.inject("envelope_error", code="LIMIT_ERROR")            # request-level, HTTP 200
        sim.inject("envelope_error", code="answer:INVALID_DATA")     # method-level, HTTP 200
        sim.deny_service("backup")           # NO_ACCESS for the backup section
        sim.remove_service("mysql")          # NO_SUCH_METHOD: the section is not there
        sim.deny_service("vps_statistic")    # HTTP 403 on the VPS statistics

From the shell::

    python -m providers.adapters.beget.simulator --port 8710 --resources 20000

``/_sim/...`` control endpoints (faults, permissions, mutate, top-up, expire tokens, stats) need
no auth and are not part of Beget's API.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import secrets
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from providers.adapters.beget.simulator_account import (
    HISTORY_TYPES,
    MOSCOW,
    VPS_CONFIGS,
    Account,
    Server,
)
from providers.adapters.simulation import (
    Fault,
    SimRequest,
    SimResponse,
    SimulatedError,
    SimulatorServer,
)

__all__ = ["BegetSimulator", "Fault", "SimulatorConfig"]

# Well-known fakes: the simulator is a test double and accepts these unless told otherwise.
DEFAULT_LOGIN = "simacct"
DEFAULT_API_PASSWORD = "sim-api-password-0000"  # noqa: S105
DEFAULT_VPS_PASSWORD = "sim-vps-password-0000"  # noqa: S105
DEFAULT_VPS_TOKEN = "sim-vps-token-000000000000000000"  # noqa: S105

# Permission knobs name services as the adapter's listing units do (see beget/services.py):
# hosting API sections, and parts of the VPS API.
HOSTING_SECTIONS = ("user", "site", "domain", "mysql", "backup")
VPS_SERVICES = {
    "vps": re.compile(r"^/v1/vps/server(/|$)"),
    "vps_statistic": re.compile(r"^/v1/vps/statistic/"),
    "vps_history": re.compile(r"^/v1/vps/[^/]+/history$"),
}
VPS_PAGE_DEFAULT = 10
VPS_PAGE_MAX = 100
# period -> (points, step): what one statistics call returns (inferred; the spec gives none).
STAT_PERIODS = {
    "HOUR": (60, dt.timedelta(minutes=1)),
    "DAY": (288, dt.timedelta(minutes=5)),
    "WEEK": (168, dt.timedelta(hours=1)),
    "MONTH": (720, dt.timedelta(hours=1)),
}


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    seed: int = 1
    login: str = DEFAULT_LOGIN
    api_password: str = DEFAULT_API_PASSWORD
    vps_password: str = DEFAULT_VPS_PASSWORD
    vps_tokens: tuple[str, ...] = (DEFAULT_VPS_TOKEN,)
    sites: int = 6
    domains: int = 8
    databases: int = 4
    backups: int = 4
    servers: int = 3
    account_days: int = 90
    paid_in: Decimal = Decimal("20000.00")
    rate_month: Decimal = Decimal("345.00")
    # Beget's user_rate_current covers the plan only (False) or plan + servers (True); which one
    # holds is not documented, and the adapter tells them apart (see beget/costs.py).
    rate_includes_vps: bool = False
    mixed_types: bool = True
    # Statistics timestamps: "local" ("2026-01-05 10:00:00", Moscow), "iso" (with offset), "unix".
    stat_dates: str = "local"
    requests_per_token: int = 0  # >0: a VPS token dies after that many calls
    today: dt.date | None = None  # None: the Moscow date now
    latency_s: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0

    @classmethod
    def sized(cls, resources: int, **options: Any) -> SimulatorConfig:
        """About ``resources`` resources, spread as a busy hosting account would have them."""
        resources = max(6, resources)
        return cls(
            sites=resources * 3 // 10,
            domains=resources * 35 // 100,
            databases=resources * 15 // 100,
            backups=resources // 10,
            servers=max(1, resources // 10),
            **options,
        )


class BegetError(SimulatedError):
    """A hosting API error: HTTP 200 with the request-level or method-level envelope."""

    def __init__(self, code: str, text: str, *, method_level: bool = False) -> None:
        super().__init__(200, text)
        self.code, self.method_level = code, method_level

    def body(self) -> Any:
        if self.method_level:
            return {
                "status": "success",
                "answer": {
                    "status": "error",
                    "errors": [{"error_code": self.code, "error_text": self.message}],
                },
            }
        return {"status": "error", "error_code": self.code, "error_text": self.message}


class VpsError(SimulatedError):
    """A VPS API error: an HTTP status with the gRPC-gateway body."""

    GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 502: 14, 503: 14, 504: 4}

    def body(self) -> Any:
        return {"code": self.GRPC.get(self.status, 2), "message": self.message, "details": []}


class GatewayError(SimulatedError):
    """What the front proxy answers when the backend is down: an HTML page, not JSON."""

    def body(self) -> Any:
        return f"<html><body><h1>{self.status} Bad Gateway</h1></body></html>".encode()


class BegetSimulator(SimulatorServer):
    server_version = "BegetSimulator/1.0"

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        config = config or SimulatorConfig()
        if overrides:
            config = replace(config, **overrides)
        super().__init__(host=config.host, port=config.port, latency_s=config.latency_s)
        self.config = config
        self.account = Account(
            seed=config.seed,
            login=config.login,
            sites=config.sites,
            domains=config.domains,
            databases=config.databases,
            backups=config.backups,
            servers=config.servers,
            account_days=config.account_days,
            paid_in=config.paid_in,
            rate_month=config.rate_month,
            rate_includes_vps=config.rate_includes_vps,
            mixed_types=config.mixed_types,
            today=config.today,
        )
        # service -> "deny" | "absent", and the envelope style of hosting refusals.
        self.service_answers: dict[str, tuple[str, bool]] = {}
        self._tokens: dict[str, int] = dict.fromkeys(config.vps_tokens, 0)
        self._expired: set[str] = set()
        self._token_lock = threading.Lock()
        self.token_exchanges = 0

    # -- addresses and credentials ---------------------------------------------------------------

    @property
    def endpoints(self) -> dict[str, str]:
        return {"hosting": f"{self.url}/api", "vps": self.url}

    @property
    def credentials(self) -> dict[str, str]:
        """Hosting API password and a VPS login/password pair (exchanged for tokens)."""
        return {
            "login": self.config.login,
            "api_password": self.config.api_password,
            "vps_login": self.config.login,
            "vps_password": self.config.vps_password,
        }

    @property
    def token_credentials(self) -> dict[str, str]:
        """Hosting API password and a fixed VPS token (cannot be renewed)."""
        return {
            "login": self.config.login,
            "api_password": self.config.api_password,
            "vps_token": self.config.vps_tokens[0],
        }

    # -- knobs -----------------------------------------------------------------------------------

    def deny_service(self, service: str, *, method_level: bool = False) -> None:
        """Calls to ``service`` are refused: a hosting section answers NO_ACCESS (request-level,
        or ACCESS_DENIED method-level), a VPS service HTTP 403."""
        self._set_answer(service, "deny", method_level)

    def remove_service(self, service: str) -> None:
        """``service`` is not there: a hosting section answers NO_SUCH_METHOD, a VPS one 404."""
        self._set_answer(service, "absent", False)

    def grant_service(self, service: str) -> None:
        self.service_answers.pop(service, None)

    def _set_answer(self, service: str, answer: str, method_level: bool) -> None:
        if service not in HOSTING_SECTIONS and service not in VPS_SERVICES:
            known = ", ".join((*HOSTING_SECTIONS, *VPS_SERVICES))
            raise ValueError(f"unknown service {service!r}; one of {known}")
        self.service_answers[service] = (answer, method_level)

    def expire_tokens(self) -> None:
        """Every VPS token issued or accepted so far stops working."""
        with self._token_lock:
            self._expired.update(self._tokens)

    def mutate(self, **changes: int):
        return self.account.mutate(**changes)

    def expected_count(self) -> int:
        return self.account.count()

    # -- routing ---------------------------------------------------------------------------------

    def route(self, request: SimRequest) -> Any:
        path = request.path
        if path.startswith("/api/"):
            return self._hosting(request)
        if path == "/v1/auth" and request.method == "POST":
            return self._auth(request.body if isinstance(request.body, dict) else {})
        if path.startswith("/v1/"):
            return self._vps(request)
        raise VpsError(404, f"{request.method} {path} is not an API method")

    # -- hosting API -----------------------------------------------------------------------------

    def _hosting(self, request: SimRequest) -> Any:
        params = dict(request.query)
        if request.raw and "json" not in (request.header("Content-Type") or ""):
            params.update(parse_qsl(request.raw.decode("utf-8", "replace"), keep_blank_values=True))
        if params.get("login") != self.config.login or (
            params.get("passwd") != self.config.api_password
        ):
            raise BegetError("AUTH_ERROR", "Username/password incorrect")
        parts = request.path.strip("/").split("/")
        if len(parts) != 3:
            raise BegetError("NO_SUCH_METHOD", f"No such method {request.path}")
        _, section, method = parts
        refusal = self.service_answers.get(section)
        if refusal is not None:
            answer, method_level = refusal
            if answer == "absent":
                raise BegetError("NO_SUCH_METHOD", f"No such method {section}/{method}")
            if method_level:
                raise BegetError("ACCESS_DENIED", "Access denied", method_level=True)
            raise BegetError("NO_ACCESS", f"No access to section {section}")
        handler = HOSTING_METHODS.get((section, method))
        if handler is None:
            raise BegetError("NO_SUCH_METHOD", f"No such method {section}/{method}")
        if params.get("input_data"):
            try:
                json.loads(params["input_data"])
            except ValueError:
                raise BegetError(
                    "INVALID_DATA", "input_data is not JSON", method_level=True
                ) from None
        with self.account.lock:
            result = handler(self)
        return {"status": "success", "answer": {"status": "success", "result": result}}

    def _account_info(self) -> dict:
        a = self.account
        rate = a.plan_rate_day + (a.vps_rate_day() if a.rate_includes_vps else 0)
        return {
            "plan_name": a.plan_name,
            "user_sites": len(a.sites),
            "plan_site": 2147483647,
            "user_domains": str(len(a.domains)) if a.mixed_types else len(a.domains),
            "plan_domain": 2147483647,
            "user_quota": 1283,
            "plan_quota": 10000,
            "user_mysqlsize": int(sum(d.size_mb for d in a.databases.values())),
            "plan_mysql": 2147483647,
            "user_bash": "/bin/bash",
            "user_rate_current": f"{rate:.2f}",  # a string, as Beget sends it
            "user_is_year_plan": "0",
            "user_rate_year": int(a.rate_month * 12),
            "user_rate_month": a.num(a.rate_month),
            "user_balance": float(a.balance),
            "user_days_to_block": a.num(a.days_to_block, 1),
            "server_name": "titan",
            "server_memory": 64000,
            "server_memorycurrent": 31000 + zlib.crc32(str(time.time()).encode()) % 1000,
            "server_loadaverage": 1.2,
            "server_uptime": 86,
            "server_php_version": "8.2",
            "server_mysql_version": "8.0",
        }

    def _sites(self) -> list:
        a = self.account
        return [
            {
                "id": a.num(site.id, i),
                "path": site.path,
                "domains": [
                    {
                        "id": a.num(d, i),
                        "fqdn": a.domains[d].fqdn,
                        "php_version": "8.2",
                        "http_version": 2,
                        "ssl": a.flag(True, i),
                    }
                    for d in site.domain_ids
                    if d in a.domains
                ],
            }
            for i, site in enumerate(a.sites.values())
        ]

    def _domains(self) -> list:
        a = self.account
        return [
            {
                "id": a.num(d.id, i),
                "fqdn": d.fqdn,
                "date_add": d.added.strftime("%Y-%m-%d %H:%M:%S"),
                "auto_renew": a.flag(d.auto_renew, i + 1),
                "date_register": d.registered.isoformat() if d.registered else "0",
                "date_expire": d.expires.isoformat() if d.expires else a.num(0, i),
                "can_renew": a.flag(d.expires is not None, i),
                "registrar": "beget" if d.registered else "",
                "registrar_status": "delegated" if d.registered else "",
            }
            for i, d in enumerate(a.domains.values())
        ]

    def _databases(self) -> list:
        a = self.account
        return [
            {
                "name": db.name,
                "size": a.num(db.size_mb, i),
                "users": [{"login": db.name, "host": "localhost"}],
            }
            for i, db in enumerate(a.databases.values())
        ]

    def _backups(self, kind: str) -> list:
        a = self.account
        return [
            {"backup_id": a.num(b.id, i), "date": b.taken.strftime("%Y-%m-%d %H:%M:%S")}
            for i, b in enumerate(x for x in a.backups.values() if x.kind == kind)
        ]

    # -- VPS API ---------------------------------------------------------------------------------

    def _auth(self, body: dict) -> Any:
        if not body.get("login"):
            return {"error": "EMPTY_LOGIN"}
        if body.get("login") != self.config.login or body.get("password") != (
            self.config.vps_password
        ):
            return {"error": "INCORRECT_CREDENTIALS"}
        token = "eyJ" + secrets.token_urlsafe(24)
        with self._token_lock:
            self._tokens[token] = 0
            self.token_exchanges += 1
        return {"token": token}

    def _authorize(self, header: str | None) -> None:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VpsError(401, "Unauthenticated: no bearer token")
        with self._token_lock:
            if token not in self._tokens or token in self._expired:
                raise VpsError(401, "Unauthenticated: the token is invalid or expired")
            self._tokens[token] += 1
            limit = self.config.requests_per_token
            if limit and self._tokens[token] > limit:
                self._expired.add(token)
                raise VpsError(401, "Unauthenticated: the token has expired")

    def _vps(self, request: SimRequest) -> Any:
        path = request.path
        self._authorize(request.header("Authorization"))
        for service, pattern in VPS_SERVICES.items():
            if pattern.match(path) and service in self.service_answers:
                answer, _ = self.service_answers[service]
                if answer == "deny":
                    raise VpsError(403, "Permission denied")
                raise VpsError(404, f"{path} is not available")
        if request.method != "GET":
            raise VpsError(404, f"{request.method} {path} is not an API method")
        if path == "/v1/vps/server/list":
            return self._server_list(request.query)
        if match := re.fullmatch(r"/v1/vps/server/([^/]+)", path):
            return {"vps": self._server_wire(self._find_server(match.group(1)), 0)}
        if match := re.fullmatch(r"/v1/vps/statistic/cpu/([^/]+)", path):
            period = request.query.get("period") or "HOUR"
            return self._cpu(self._find_server(match.group(1)), period)
        if match := re.fullmatch(r"/v1/vps/([^/]+)/history", path):
            return self._history(self._find_server(match.group(1), removed_too=True))
        raise VpsError(404, f"GET {path} is not an API method")

    def _find_server(self, server_id: str, removed_too: bool = False) -> Server:
        server = self.account.servers.get(server_id)
        if server is None and removed_too:
            server = self.account.removed.get(server_id)
        if server is None:
            raise VpsError(404, f"vps {server_id} not found")
        return server

    def _server_list(self, query: dict[str, str]) -> dict:
        try:
            offset = int(query.get("offset") or 0)
            limit = int(query.get("limit") or VPS_PAGE_DEFAULT)
        except ValueError:
            raise VpsError(400, "offset and limit must be integers") from None
        if offset < 0 or not 1 <= limit <= VPS_PAGE_MAX:
            raise VpsError(400, f"limit must be within 1..{VPS_PAGE_MAX}, offset >= 0")
        with self.account.lock:
            servers = sorted(self.account.servers.values(), key=lambda s: s.id)
            chunk = servers[offset : offset + limit]
            return {
                "vps": [self._server_wire(s, offset + i) for i, s in enumerate(chunk)],
                "total_count": self.account.num(len(servers), offset // max(1, limit)),
            }

    def _server_wire(self, server: Server, index: int) -> dict:
        a = self.account
        name, cpu, memory, disk, price_day = VPS_CONFIGS[server.config]
        crc = zlib.crc32(server.id.encode())
        return {
            "id": server.id,
            "slug": server.name,
            "display_name": server.name,
            "hostname": server.hostname,
            "status": server.status,
            "region": server.region,
            "date_create": server.created.strftime("%Y-%m-%d %H:%M:%S"),
            "ip_address": f"45.10.{crc % 250}.{crc // 250 % 250 + 1}",
            "additional_ip_address": [],
            "disk_used": "12.3",
            "disk_left": "27.7",
            "archived": False,
            "project_id": "",
            "configuration": {
                "id": f"c{cpu}-r{memory // 1024}-d{disk // 1024}",
                "name": name,
                "cpu_count": a.num(cpu, index),
                "memory": a.num(memory, index + 1),
                "disk_size": a.num(disk, index),
                "bandwidth_public": 100,
                "price_day": a.num(price_day, index),
                "price_month": a.num(price_day * 30, index + 1),
                "region": server.region,
                "custom": False,
            },
        }

    def _cpu(self, server: Server, period: str) -> dict:
        if period not in STAT_PERIODS:
            raise VpsError(400, f"period must be one of {', '.join(STAT_PERIODS)}")
        points, step = STAT_PERIODS[period]
        now = dt.datetime.now(dt.UTC)
        last = dt.datetime.fromtimestamp(
            now.timestamp() // step.total_seconds() * step.total_seconds(), dt.UTC
        )
        dates, values = [], []
        for n in range(points - 1, -1, -1):
            moment = last - n * step
            dates.append(self._stat_date(moment))
            values.append(self.cpu_value(server.id, moment))
        return {"cpu": {"date": dates, "value": values}}

    def cpu_value(self, server_id: str, moment: dt.datetime) -> float:
        """The server's CPU load in percent at ``moment`` (deterministic)."""
        key = f"{self.config.seed}:{server_id}:{int(moment.timestamp())}".encode()
        return round((zlib.crc32(key) % 10_000) / 100, 2)

    def _stat_date(self, moment: dt.datetime) -> Any:
        if self.config.stat_dates == "iso":
            return moment.astimezone(MOSCOW).isoformat()
        if self.config.stat_dates == "unix":
            return int(moment.timestamp())
        return moment.astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M:%S")

    def _history(self, server: Server) -> dict:
        return {
            "history": [
                {
                    "date": when.strftime("%Y-%m-%d %H:%M:%S"),
                    "type": kind if kind in HISTORY_TYPES else "UNKNOWN",
                    "has_error": failed,
                }
                for when, kind, failed in reversed(server.history)  # newest first
            ]
        }

    # -- control (/_sim/...) ---------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        if (method, path) == ("GET", "/_sim/health"):
            return {"ok": True, "resources": self.expected_count()}
        if (method, path) == ("POST", "/_sim/mutate"):
            changes = {k: int(body.get(k, 0)) for k in ("appear", "change", "disappear")}
            return asdict(self.mutate(**changes))
        if (method, path) == ("POST", "/_sim/top-up"):
            self.account.top_up(Decimal(str(body.get("amount", "0"))))
            return {"balance": str(self.account.balance)}
        if (method, path) == ("POST", "/_sim/permissions"):
            # {"deny": [service, ...], "absent": [service, ...], "grant": [service, ...]}
            try:
                for service in body.get("grant") or ():
                    self.grant_service(service)
                for service in body.get("deny") or ():
                    self.deny_service(service)
                for service in body.get("absent") or ():
                    self.remove_service(service)
            except (TypeError, ValueError) as exc:
                raise VpsError(400, str(exc)) from None
            return {"services": {k: v[0] for k, v in self.service_answers.items()}}
        if (method, path) == ("POST", "/_sim/expire-tokens"):
            self.expire_tokens()
            return {}
        return super().control(method, path, body)

    def stats_extra(self) -> dict[str, Any]:
        return {"token_exchanges": self.token_exchanges, "balance": str(self.account.balance)}

    # -- the shared server's hooks: Beget's wire formats -----------------------------------------

    def not_found_error(self, message: str) -> SimulatedError:
        return VpsError(404, message)

    def bad_request_error(self, message: str) -> SimulatedError:
        return VpsError(400, message)

    def rate_limited_error(self, fault: Fault) -> SimulatedError:
        return VpsError(429, "Too many requests", headers={"Retry-After": f"{fault.retry_after:g}"})

    def unavailable_error(self, fault: Fault) -> SimulatedError:
        if fault.status in (502, 504):
            return GatewayError(fault.status, "Bad gateway")
        return VpsError(fault.status, "Service is temporarily unavailable")

    def envelope_error(self, fault: Fault, request: SimRequest) -> SimResponse:
        """HTTP 200 carrying an error: on the hosting API ``code`` in the request-level style, or
        ``answer:CODE`` in the method-level style; on the VPS API ``{"error": code}``."""
        code = fault.code or "LIMIT_ERROR"
        if request.path.startswith("/api/"):
            method_level = code.startswith("answer:")
            code = code.removeprefix("answer:")
            error = BegetError(code, f"Simulated {code}", method_level=method_level)
            return SimResponse(error.body())
        return SimResponse({"error": code})

    def expire_token(self, request: SimRequest) -> None:
        """The VPS token of the request dies (the hosting API has no tokens: no effect)."""
        _, _, token = (request.header("Authorization") or "").partition(" ")
        if token:
            with self._token_lock:
                self._expired.add(token)


HOSTING_METHODS = {
    ("user", "getAccountInfo"): BegetSimulator._account_info,
    ("site", "getList"): BegetSimulator._sites,
    ("domain", "getList"): BegetSimulator._domains,
    ("mysql", "getList"): BegetSimulator._databases,
    ("backup", "getFileBackupList"): lambda sim: sim._backups("file"),
    ("backup", "getMysqlBackupList"): lambda sim: sim._backups("mysql"),
}


# -- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m providers.adapters.beget.simulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resources", type=int, help="about this many resources in all")
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument("--domains", type=int, default=8)
    parser.add_argument("--rate-includes-vps", action="store_true")
    parser.add_argument("--plain-types", action="store_true", help="numbers always as numbers")
    parser.add_argument("--requests-per-token", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit-every", type=int, default=0, help="429 every Nth request")
    parser.add_argument("--limit-error-every", type=int, default=0, help="LIMIT_ERROR (HTTP 200)")
    parser.add_argument("--error-every", type=int, default=0, help="503 every Nth request")
    parser.add_argument("--malformed-every", type=int, default=0)
    parser.add_argument("--deny", action="append", default=[], metavar="SERVICE")
    parser.add_argument("--absent", action="append", default=[], metavar="SERVICE")
    args = parser.parse_args(argv)

    options = {
        "seed": args.seed,
        "rate_includes_vps": args.rate_includes_vps,
        "mixed_types": not args.plain_types,
        "requests_per_token": args.requests_per_token,
        "latency_s": args.latency_ms / 1000,
        "host": args.host,
        "port": args.port,
    }
    if args.resources:
        config = SimulatorConfig.sized(args.resources, **options)
    else:
        config = SimulatorConfig(
            servers=args.servers, sites=args.sites, domains=args.domains, **options
        )
    sim = BegetSimulator(config)
    for kind, every, extra in (
        ("rate_limit", args.rate_limit_every, {}),
        ("envelope_error", args.limit_error_every, {"code": "LIMIT_ERROR"}),
        ("unavailable", args.error_every, {}),
        ("malformed", args.malformed_every, {}),
    ):
        if every:
            sim.inject(Fault(kind, every=every, times=0, path="/", **extra))
    for service in args.deny:
        sim.deny_service(service)
    for service in args.absent:
        sim.remove_service(service)
    sim.start()
    print(
        f"Beget simulator on {sim.url} ({sim.expected_count()} resources; login "
        f"{config.login}, API password {config.api_password})",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
