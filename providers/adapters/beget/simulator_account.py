"""The Beget simulator's account: what it serves, and the money that follows from it.

One hosting account (plan, sites, domains, MySQL databases, backups) with cloud servers (VPS),
generated from a seed. Money is kept consistent with the inventory the way Beget charges it
(provider-apis.md §4; the daily debit is inferred): every day of the account's life, at the start
of the day in Moscow, the plan's daily rate and each server's ``price_day`` are debited, so

    balance = paid in - sum over the account's days so far (today included) of the day's charge

and ``user_days_to_block`` is how many more whole days that balance pays for. Removed servers stay
in ``removed`` with their last day, so past charges (and the balance) do not change when they go.

Wire values come out with Beget's inconsistent types: with ``mixed_types`` a number is sent as a
JSON number or as a string, alternating by item (ids, prices, flags), as the real API does.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
CENT = Decimal("0.01")
PLAN_NAMES = ("Blog", "Start", "Noble", "Great")
VPS_CONFIGS = (
    # name, vCPU, memory MiB, disk MiB, price per day (RUB)
    ("Simple", 1, 1024, 15360, Decimal("12.30")),
    ("Simple", 2, 2048, 40960, Decimal("26.60")),
    ("Standard", 4, 8192, 81920, Decimal("61.00")),
    ("Performance", 8, 16384, 163840, Decimal("133.33")),
)
VPS_REGIONS = ("ru1", "ru2")
HISTORY_TYPES = ("CREATE", "START", "STOP", "RESTART", "REINSTALL", "RECONFIGURE", "REMOVE")
TLDS = ("ru", "com", "net", "org", "рф")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Site:
    id: int
    path: str
    domain_ids: list[int]


@dataclass
class Domain:
    id: int
    fqdn: str
    registered: dt.date | None  # None: a domain delegated from elsewhere (date_expire "0")
    expires: dt.date | None
    auto_renew: bool
    added: dt.datetime


@dataclass
class Database:
    name: str
    size_mb: Decimal


@dataclass
class Backup:
    id: int
    kind: str  # "file" or "mysql"
    taken: dt.datetime


@dataclass
class Server:
    id: str
    name: str
    hostname: str
    region: str
    config: int  # index into VPS_CONFIGS
    created: dt.datetime  # Moscow local time
    status: str = "RUNNING"
    removed_on: dt.date | None = None  # first day no longer charged
    history: list[tuple[dt.datetime, str, bool]] = field(default_factory=list)

    @property
    def price_day(self) -> Decimal:
        return VPS_CONFIGS[self.config][4]

    def alive_on(self, day: dt.date) -> bool:
        return self.created.date() <= day and (self.removed_on is None or day < self.removed_on)


@dataclass(frozen=True, slots=True)
class MutationReport:
    appeared: list[str]
    changed: list[str]
    disappeared: list[str]


class Account:
    """The simulated account (see the module docstring). ``today`` fixes the simulator's date;
    None follows the clock (the Moscow date now)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        login: str = "simacct",
        sites: int = 6,
        domains: int = 8,
        databases: int = 4,
        backups: int = 4,
        servers: int = 3,
        account_days: int = 90,
        paid_in: Decimal = Decimal("20000.00"),
        rate_month: Decimal = Decimal("345.00"),
        rate_includes_vps: bool = False,
        mixed_types: bool = True,
        today: dt.date | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.login = login
        self.fixed_today = today
        self.paid_in = paid_in
        self.rate_month = rate_month
        self.rate_includes_vps = rate_includes_vps
        self.mixed_types = mixed_types
        self.plan_name = PLAN_NAMES[seed % len(PLAN_NAMES)]
        self.started = self.today() - dt.timedelta(days=account_days)
        self.sites: dict[int, Site] = {}
        self.domains: dict[int, Domain] = {}
        self.databases: dict[str, Database] = {}
        self.backups: dict[tuple[str, int], Backup] = {}
        self.servers: dict[str, Server] = {}
        self.removed: dict[str, Server] = {}
        self.lock = threading.RLock()
        self._next_id = 100_000 + seed * 1000
        for _ in range(domains):
            self._add_domain()
        self._unserved = collections.deque(self.domains)
        for _ in range(sites):
            self._add_site()
        for _ in range(databases):
            self._add_database()
        for index in range(backups):
            self._add_backup("file" if index % 2 == 0 else "mysql")
        for _ in range(servers):
            self._add_server()

    # -- time ------------------------------------------------------------------------------------

    def today(self) -> dt.date:
        return self.fixed_today or dt.datetime.now(MOSCOW).date()

    def _moment(self, days_ago_max: int) -> dt.datetime:
        """A Moscow local time within the account's life (naive, as Beget prints it)."""
        start = getattr(self, "started", self.today() - dt.timedelta(days=days_ago_max))
        span = max(0, (self.today() - start).days)
        day = start + dt.timedelta(days=self.rng.randint(0, span))
        return dt.datetime.combine(day, dt.time(self.rng.randint(0, 23), self.rng.randint(0, 59)))

    # -- generation ------------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _add_domain(self) -> Domain:
        domain_id = self._id()
        delegated = self.rng.random() < 0.15
        registered = self._moment(365).date() - dt.timedelta(days=self.rng.randint(0, 800))
        domain = Domain(
            id=domain_id,
            fqdn=f"site{domain_id}.{self.rng.choice(TLDS)}",
            registered=None if delegated else registered,
            expires=None
            if delegated
            else self.today() + dt.timedelta(days=self.rng.randint(-10, 360)),
            auto_renew=self.rng.random() < 0.5,
            added=self._moment(90),
        )
        self.domains[domain_id] = domain
        return domain

    def _add_site(self) -> Site:
        site_id = self._id()
        # The next domain no site serves yet (domains are added in id order), else a new one.
        while self._unserved and self._unserved[0] not in self.domains:
            self._unserved.popleft()
        domain_ids = [self._unserved.popleft()] if self._unserved else [self._add_domain().id]
        site = Site(id=site_id, path=f"site{site_id}/public_html", domain_ids=domain_ids)
        self.sites[site_id] = site
        return site

    def _add_database(self) -> Database:
        name = f"{self.login}_db{self._id()}"
        size = Decimal(self.rng.randint(1, 50_000)) / 100
        self.databases[name] = Database(name=name, size_mb=size)
        return self.databases[name]

    def _add_backup(self, kind: str) -> Backup:
        backup = Backup(id=self._id(), kind=kind, taken=self._moment(30))
        self.backups[(kind, backup.id)] = backup
        return backup

    def _add_server(self, created: dt.datetime | None = None) -> Server:
        suffix = f"{self._id():x}"
        config = self.rng.randrange(len(VPS_CONFIGS))
        created = created or self._moment(90)
        server = Server(
            id=f"v-{suffix}",
            name=f"vps-{suffix}",
            hostname=f"vps-{suffix}.example",
            region=self.rng.choice(VPS_REGIONS),
            config=config,
            created=created,
        )
        server.history.append((created, "CREATE", False))
        server.history.append((created + dt.timedelta(minutes=2), "START", False))
        self.servers[server.id] = server
        return server

    # -- money -----------------------------------------------------------------------------------

    @property
    def plan_rate_day(self) -> Decimal:
        """The plan's price per day (``user_rate_current``: 345 a month is 11.50 a day)."""
        return money(self.rate_month / 30)

    def vps_rate_day(self, day: dt.date | None = None) -> Decimal:
        day = day or self.today()
        servers = [*self.servers.values(), *self.removed.values()]
        return sum((s.price_day for s in servers if s.alive_on(day)), Decimal(0))

    def charges(self, day: dt.date) -> dict[str, Decimal]:
        """What was debited on ``day``: resource id (the login for the plan) -> amount."""
        if day < self.started or day > self.today():
            return {}
        found = {self.login: self.plan_rate_day}
        for server in (*self.servers.values(), *self.removed.values()):
            if server.alive_on(day):
                found[server.id] = server.price_day
        return found

    def charged(self, first: dt.date, last: dt.date) -> Decimal:
        """Everything debited over the days [first, last]."""
        total, day = Decimal(0), first
        while day <= last:
            total += sum(self.charges(day).values(), Decimal(0))
            day += dt.timedelta(days=1)
        return total

    @property
    def balance(self) -> Decimal:
        with self.lock:
            return money(self.paid_in - self.charged(self.started, self.today()))

    @property
    def days_to_block(self) -> int:
        daily = self.plan_rate_day + self.vps_rate_day()
        if daily <= 0:
            return 0
        return max(0, int(self.balance // daily))

    def top_up(self, amount: Decimal) -> None:
        with self.lock:
            self.paid_in += amount

    # -- change ----------------------------------------------------------------------------------

    def mutate(self, *, appear: int = 0, change: int = 0, disappear: int = 0) -> MutationReport:
        """Servers and sites appear, change (renamed, stopped) and disappear, alternately."""
        appeared, changed, gone = [], [], []
        now = dt.datetime.now(MOSCOW).replace(tzinfo=None, microsecond=0)
        with self.lock:
            old = list(self.servers.values())
            for index in range(appear):
                if index % 2 == 0:
                    appeared.append(self._add_server(created=now).id)
                else:
                    appeared.append(f"site/{self._add_site().id}")
            for index in range(min(change, len(old))):
                server = old[index]
                server.name += "-renamed"
                server.status = "STOPPED" if server.status == "RUNNING" else "RUNNING"
                action = "STOP" if server.status == "STOPPED" else "START"
                server.history.append((now, action, False))
                changed.append(server.id)
            # The last ones go, changed ones last: a server is not both changed and gone.
            for server in old[::-1][: min(disappear, max(0, len(old) - change))]:
                self.remove_server(server.id, now)
                gone.append(server.id)
        return MutationReport(appeared, changed, gone)

    def remove_server(self, server_id: str, when: dt.datetime | None = None) -> None:
        """The server is removed: charged through the day of removal (that day's debit was
        taken at its start), gone from every listing."""
        with self.lock:
            server = self.servers.pop(server_id)
            when = when or dt.datetime.now(MOSCOW).replace(tzinfo=None, microsecond=0)
            server.history.append((when, "REMOVE", False))
            server.status = "REMOVED"
            server.removed_on = when.date() + dt.timedelta(days=1)
            self.removed[server_id] = server

    def count(self) -> int:
        """Resources a complete discovery yields (the account itself included)."""
        return (
            1
            + len(self.sites)
            + len(self.domains)
            + len(self.databases)
            + len(self.backups)
            + len(self.servers)
        )

    # -- wire (Beget's mixed types) ----------------------------------------------------------------

    def num(self, value: Any, index: int = 0) -> Any:
        """``value`` as a JSON number, or (mixed types, every other item) as a string."""
        if isinstance(value, Decimal):
            value = float(value) if value != value.to_integral() else int(value)
        if self.mixed_types and index % 2 == 1:
            return f"{value:.2f}" if isinstance(value, float) else str(value)
        return value

    def flag(self, value: bool, index: int = 0) -> Any:
        if self.mixed_types and index % 2 == 1:
            return "1" if value else "0"
        return value if index % 3 else int(value)
