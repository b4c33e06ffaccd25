#!/usr/bin/env python3
# ruff: noqa: S603, S310 -- runs fixed commands of this project; opens only its local URLs
"""InfraZen launcher: one command to run the platform, one to test it.

    python3 scripts/infrazen.py up        # venv, database, migrate, demo data, web+worker+beat
    python3 scripts/infrazen.py smoke     # the same, checks the pages answer, prints timings, exits
    python3 scripts/infrazen.py test      # venv + dev deps, picks a PostgreSQL, runs pytest
    python3 scripts/infrazen.py stop      # stops what `up` left running and the embedded PostgreSQL
    python3 scripts/infrazen.py setup     # only the virtual environment (add --dev for test tools)

Pure standard library: it runs on a bare Python 3.11 before the virtual environment exists and
drives everything else through ``.venv/bin/python``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

T0 = time.monotonic()
STARTED_AT = time.time()
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
STAMP = VENV / ".installed"
VAR = Path(os.environ.get("INFRAZEN_VAR_DIR", ROOT / "var"))
LOG_DIR = VAR / "log"
RUN_FILE = VAR / "run" / "processes.json"
PGDATA = VAR / "pgdata"
STATIC_STAMP = VAR / "static.stamp"
PYTHON_VERSION = (3, 11)
LOCAL_PG_URL = "postgres://postgres@127.0.0.1:5432/infrazen"
STOP_TIMEOUT = 20  # seconds a child gets to shut down before it is killed
READY_TIMEOUT = 180  # seconds the web server gets to answer
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# --- output ---------------------------------------------------------------------------------
def say(message: str = "") -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say(f"[{time.monotonic() - T0:6.1f}s] {message}")


class Failure(Exception):
    """A step failed; the message says what to do."""


def run(cmd: list, *, env=None, log: Path | None = None, quiet=False) -> str:
    """Run a command; with ``quiet`` its output goes to ``log`` and is shown only on failure."""
    if not quiet:
        result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        if result.returncode:
            raise Failure(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}")
        return ""
    result = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as handle:
            handle.write(f"$ {' '.join(map(str, cmd))}\n{result.stdout}\n")
    if result.returncode:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise Failure(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return result.stdout


# --- virtual environment --------------------------------------------------------------------
def requirement_files(path: Path, seen=None) -> list[Path]:
    """The file and every file it pulls in with ``-r``/``-c``, in order."""
    seen = seen if seen is not None else []
    if path in seen:
        return seen
    seen.append(path)
    for line in path.read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) == 2 and parts[0] in ("-r", "--requirement", "-c", "--constraint"):
            requirement_files((path.parent / parts[1]).resolve(), seen)
    return seen


def requirements_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for item in requirement_files(path.resolve()):
        digest.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _venv_works() -> bool:
    if not VENV_PY.exists():
        return False
    probe = subprocess.run(
        [str(VENV_PY), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "{}.{}".format(*PYTHON_VERSION)


def _base_python() -> str:
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    name = "python{}.{}".format(*PYTHON_VERSION)
    found = shutil.which(name)
    if not found:
        raise Failure(f"InfraZen needs Python {name[6:]}; install it (found only {sys.version})")
    return found


def ensure_venv(dev: bool = False) -> None:
    """Create .venv if needed and install requirements unless the stamp says they are current."""
    if not _venv_works():
        if VENV.exists():
            step(f"Recreating {VENV.name}: its Python is missing or not {PYTHON_VERSION}")
            shutil.rmtree(VENV)
        step(f"Creating virtual environment {VENV}")
        result = subprocess.run([_base_python(), "-m", "venv", str(VENV)], check=False)
        if result.returncode:
            raise Failure(
                "python -m venv failed; on Debian/Ubuntu install the python3.11-venv package"
            )
    wanted = ROOT / ("requirements-dev.txt" if dev else "requirements.txt")
    stamp = _read_stamp()
    digest = requirements_digest(wanted)
    if stamp.get(wanted.name) == digest:
        return
    step(f"Installing {wanted.name} into {VENV.name} (first run: a minute or two)")
    run(
        [
            str(VENV_PY),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-q",
            "-r",
            str(wanted),
        ],
        log=LOG_DIR / "pip.log",
        quiet=True,  # the full pip output is in var/log/pip.log; its tail is shown on failure
    )
    # Every file the installed one pulls in is now installed too.
    for item in requirement_files(wanted.resolve()):
        if item.parent == ROOT and item.name.startswith("requirements"):
            stamp[item.name] = requirements_digest(item)
    STAMP.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    step("Requirements installed")


def child_env(**extra) -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "infrazen.settings.base")
    env["PYTHONUNBUFFERED"] = "1"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update({key: value for key, value in extra.items() if value is not None})
    return env


def manage(*args, env=None, quiet=True) -> str:
    return run(
        [str(VENV_PY), "manage.py", *args],
        env=env or child_env(),
        log=LOG_DIR / "setup.log",
        quiet=quiet,
    )


# --- database -------------------------------------------------------------------------------
def embedded_database_url() -> str:
    """Start (or reuse) the embedded PostgreSQL under var/pgdata; return its URL."""
    code = "from infrazen.local_state import embedded_database_url as u; print(u())"
    out = run([str(VENV_PY), "-c", code], env=child_env(), log=LOG_DIR / "setup.log", quiet=True)
    return out.strip().splitlines()[-1]


def local_postgres_answers() -> bool:
    """True if 127.0.0.1:5432 accepts the trust-authenticated postgres user."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return False
    code = (
        "import psycopg; psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres',"
        " connect_timeout=3).close()"
    )
    probe = subprocess.run([str(VENV_PY), "-c", code], capture_output=True, check=False)
    return probe.returncode == 0


def prepare_database() -> str:
    """Make sure a database is there; returns a description for the summary."""
    if os.environ.get("DATABASE_URL"):
        step("Using DATABASE_URL from the environment")
        return "DATABASE_URL"
    step(f"Starting (or reusing) the embedded PostgreSQL in {PGDATA}")
    embedded_database_url()
    return f"embedded PostgreSQL ({PGDATA})"


def stop_embedded_postgres() -> None:
    pidfile = PGDATA / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        say("Embedded PostgreSQL is not running")
        return
    if not _alive(pid) or str(PGDATA) not in _cmdline(pid):
        say("Embedded PostgreSQL is not running (stale postmaster.pid)")
        return
    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown: roll back, checkpoint, exit
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        raise Failure(f"embedded PostgreSQL (pid {pid}) did not stop within 60 s")
    say(f"Stopped embedded PostgreSQL (pid {pid})")


# --- processes ------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _recorded_processes() -> dict[str, int]:
    """Processes recorded by an earlier `up` of this checkout that are still running."""
    try:
        recorded = json.loads(RUN_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: pid
        for name, pid in recorded.items()
        if _alive(pid) and str(VENV_PY.parent) in _cmdline(pid)
    }


class Child:
    def __init__(self, name: str, cmd: list, env: dict, echo: bool):
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("a", buffering=1)
        self.log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
        self.echo = echo
        self.lines: list[str] = []
        # Own session: the terminal's Ctrl-C reaches only the launcher, which then stops each
        # child in order with SIGTERM (gunicorn: graceful, celery: warm shutdown).
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.log.write(line)
            self.lines.append(line)
            del self.lines[:-200]
            if self.echo:
                sys.stdout.write(f"{self.name:<6}| {line}")
                sys.stdout.flush()

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def banner_url(self) -> str | None:
        """The URL a simulator printed once it listens ("... simulator on http://host:port")."""
        for line in self.lines:
            if match := _BANNER.search(line):
                return match.group(1)
        return None

    def tail(self, count=30) -> str:
        return "".join(self.lines[-count:])

    def terminate(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        try:
            self.proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop in {STOP_TIMEOUT} s; killing it")
        # Whatever is left in its process group (pool workers, gunicorn workers) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=2)
        self.log.close()


def record_children(children: list[Child]) -> None:
    RUN_FILE.parent.mkdir(parents=True, exist_ok=True)
    RUN_FILE.write_text(json.dumps({c.name: c.proc.pid for c in children}))


def stop_children(children: list[Child]) -> None:
    for child in reversed(children):
        child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in reversed(children):
        child.wait_or_kill(deadline)
    with contextlib.suppress(OSError):
        RUN_FILE.unlink()


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout=3.0) -> int | None:
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def demo_admin_credentials() -> tuple[str, str]:
    if os.environ.get("DEMO_PASSWORD"):
        return "admin", os.environ["DEMO_PASSWORD"]
    try:
        accounts = json.loads((VAR / "demo_credentials.json").read_text())["accounts"]
    except (OSError, ValueError, KeyError):
        return "admin", ""
    return next(((a["username"], a["password"]) for a in accounts if a["username"] == "admin"),
                ("admin", ""))  # fmt: skip


def admin_login(base: str) -> tuple[str, bool]:
    """Log in to the admin with the demo superuser, as a browser would (cookie + CSRF token)."""
    username, password = demo_admin_credentials()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    url = f"{base}/admin/login/?next=/admin/"
    try:
        with opener.open(url, timeout=10) as response:
            page = response.read().decode("utf-8", "replace")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": match.group(1) if match else "",
                "username": username,
                "password": password,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(url, data=form, headers={"Referer": url})
        with opener.open(request, timeout=10) as response:
            landed = urllib.parse.urlsplit(response.geturl()).path
            return username, response.status == 200 and landed == "/admin/"
    except (OSError, urllib.error.URLError):
        return username, False


# --- static files ---------------------------------------------------------------------------
def static_fingerprint() -> str:
    """Changes when a requirement or a file under one of the project's static folders changes."""
    digest = hashlib.sha256(requirements_digest(ROOT / "requirements.txt").encode())
    skip = {"var", "staticfiles", "node_modules"}
    folders = [ROOT / "static"]  # and <app>/static, <app>/<sub-app>/static
    for path in ROOT.iterdir():
        if path.is_dir() and path.name not in skip and not path.name.startswith("."):
            folders += [path / "static", *path.glob("*/static")]
    for folder in sorted(set(folders)):
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                info = item.stat()
                digest.update(f"{item}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static() -> None:
    fingerprint = static_fingerprint()
    target = ROOT / "staticfiles"
    if target.is_dir() and STATIC_STAMP.exists() and STATIC_STAMP.read_text() == fingerprint:
        return
    step("Collecting static files (whitenoise serves them)")
    manage("collectstatic", "--noinput", "-v", "0")
    STATIC_STAMP.write_text(fingerprint)


# --- commands -------------------------------------------------------------------------------
def cmd_setup(args) -> int:
    ensure_venv(dev=args.dev)
    step(f"Virtual environment ready: {VENV}")
    return 0


def cmd_up(args) -> int:
    check = args.check
    host = args.host
    explicit_port = args.port or os.environ.get("PORT")
    port = int(explicit_port or 8000)
    running = _recorded_processes()
    if running:
        raise Failure(
            f"InfraZen is already running from this folder ({running}); "
            "stop it with: python3 scripts/infrazen.py stop"
        )
    if not port_free(host, port):
        if check and not explicit_port:
            port = free_port(host)
        else:
            raise Failure(f"{host}:{port} is in use; pick another port with --port N or PORT=N")
    base = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"  # noqa: S104

    ensure_venv(dev=False)
    database = prepare_database()
    step("Applying migrations")
    manage("migrate", "--noinput")
    collect_static()

    env = child_env(SITE_URL=os.environ.get("SITE_URL") or base)
    py = str(VENV_PY)
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    commands = {
        # gunicorn: a real WSGI server (DEBUG is off; whitenoise serves static files), graceful
        # SIGTERM, several workers; runserver is a single-process development server.
        "web": [
            py, "-m", "gunicorn", "infrazen.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", workers, "--threads", "4",
            "--worker-class", "gthread", "--graceful-timeout", "10", "--timeout", "120",
            "--access-logfile", "-", "--error-logfile", "-",
        ],
        "worker": [py, "-m", "celery", "-A", "infrazen", "worker", "--loglevel", "INFO"],
        "beat": [py, "-m", "celery", "-A", "infrazen", "beat", "--loglevel", "INFO"],
    }  # fmt: skip
    if args.no_celery:
        commands = {"web": commands["web"]}

    children: list[Child] = []
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    exit_code = 0
    try:
        simulators = {}
        if not args.no_celery:  # without a worker nothing would sync from them
            simulators = start_simulators(children, env, echo=not check)
            record_children(children)  # so that `infrazen.py stop` finds them from now on
            env.update({setting: url for setting, (_name, url) in simulators.items()})
        step("Seeding demo data (manage.py seed_demo)")
        seed_output = manage("seed_demo", env=env)
        step(f"Starting {', '.join(commands)} (logs in {LOG_DIR})")
        for name, cmd in commands.items():
            children.append(Child(name, cmd, env, echo=not check))
        record_children(children)

        admin_url = f"{base}/admin/login/"
        deadline = time.monotonic() + READY_TIMEOUT
        while http_status(admin_url) != 200:
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                raise Failure(f"{dead[0].name} exited early:\n{dead[0].tail()}")
            if stopping.is_set():
                return 130
            if time.monotonic() > deadline:
                raise Failure(f"{admin_url} did not answer 200 within {READY_TIMEOUT} s")
            time.sleep(0.25)
        ready_after = time.monotonic() - T0
        step(f"Admin answers: {admin_url} ({ready_after:.1f} s after the command started)")

        if check:
            exit_code = smoke_checks(base, children, ready_after, env)
            return exit_code

        say("")
        say(f"InfraZen is running (Ctrl-C stops {', '.join(c.name for c in children)}).")
        say(f"  Admin (MSP operators):  {base}/admin/")
        say(f"  Portal (customers):     {base}/portal/")
        say(f"  API docs (OpenAPI):     {base}/api/docs/   schema: {base}/api/schema/")
        say(f"  Database:               {database}")
        say(
            f"  Broker:                 {env.get('CELERY_BROKER_URL') or 'filesystem (var/broker)'}"
        )
        for name, url in simulators.values():
            say(f"  {name + ' simulator:':<24}{url} (a demo connection syncs from it)")
        say("")
        say(seed_output.rstrip())
        say("")
        while not stopping.is_set():
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                say(f"{dead[0].name} exited ({dead[0].proc.returncode}); stopping the others")
                exit_code = 1
                break
            stopping.wait(0.5)
        return exit_code
    finally:
        if children:
            step("Stopping " + ", ".join(c.name for c in reversed(children)))
            stop_children(children)
            if os.environ.get("DATABASE_URL"):
                step("Stopped.")
            else:
                step("Stopped. The embedded PostgreSQL keeps running; `infrazen.py stop` stops it.")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# Every provider's simulator (its ``ProviderSpec.simulator``; tests/test_quickstart.py checks that
# this table matches the registry, which the launcher cannot import: it runs before the venv).
# Small sizes: the worker syncs each of them for every demo client, and the smoke (in CI) waits.
# (provider name, module, the setting naming its URL, sizing arguments)
SIMULATORS = (
    ("Yandex Cloud", "providers.adapters.yandex.simulator", "YANDEX_SIMULATOR_URL",
     ["--folders", "3", "--resources-per-folder", "100"]),  # a few hundred resources
    ("Selectel", "providers.adapters.selectel.simulator", "SELECTEL_SIMULATOR_URL",
     ["--projects", "1", "--resources-per-project", "20"]),
    ("VK Cloud", "providers.adapters.vk_cloud.simulator", "VK_CLOUD_SIMULATOR_URL",
     ["--resources", "20"]),
    ("Beget", "providers.adapters.beget.simulator", "BEGET_SIMULATOR_URL",
     ["--resources", "20"]),
)  # fmt: skip
SIMULATOR_READY_TIMEOUT = 30
DEMO_SYNC_TIMEOUT = 60
_BANNER = re.compile(r" simulator on (http://\S+)")


def start_simulators(children: list[Child], env: dict, echo: bool) -> dict[str, tuple[str, str]]:
    """Start every provider's simulator for the demo connections, on ports they pick (0);
    returns {url setting: (provider name, URL)}.

    All start at once and each joins ``children`` first thing, so they are stopped with the rest
    whatever happens next.
    """
    started = []
    for name, module, setting, args in SIMULATORS:
        cmd = [str(VENV_PY), "-m", module, "--port", "0", *args]
        child = Child(f"sim-{setting.split('_SIMULATOR')[0].lower()}", cmd, env, echo=echo)
        children.append(child)
        started.append((name, setting, child))
    urls = {}
    deadline = time.monotonic() + SIMULATOR_READY_TIMEOUT
    for name, setting, child in started:
        while not (url := child.banner_url()):
            if child.proc.poll() is not None:
                raise Failure(f"the {name} simulator exited:\n{child.tail()}")
            if time.monotonic() > deadline:
                raise Failure(f"the {name} simulator did not start in {SIMULATOR_READY_TIMEOUT} s")
            time.sleep(0.1)
        urls[setting] = (name, url)
        step(f"{name} simulator answers on {url}")
    return urls


DEMO_STATUS_CODE = (
    "import json; from providers.demo_steps import demo_sync_status; "
    "print('DEMO ' + json.dumps(demo_sync_status(since={since!r})))"
)


def demo_sync_status(env: dict, since: str) -> list[dict]:
    output = manage("shell", "-c", DEMO_STATUS_CODE.format(since=since), env=env)
    for line in reversed(output.splitlines()):
        if line.startswith("DEMO "):
            return json.loads(line[5:])
    raise Failure(f"could not read the demo connections' status:\n{output[-2000:]}")


def wait_for_demo_syncs(env: dict) -> tuple[list[str], float | None]:
    """Wait until every demo connection has synced from this run's simulator; returns
    (failures, seconds waited)."""
    started = time.monotonic()
    deadline = started + DEMO_SYNC_TIMEOUT
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(STARTED_AT))
    while True:
        status = demo_sync_status(env, since)
        if not status:
            return ["seed_demo created no demo connections"], None
        if all(row["run"] for row in status):
            break
        if time.monotonic() > deadline:
            return [
                f"demo connection of {r['tenant']} has no successful sync "
                f"(status {r['status']}: {r['last_error'] or 'still pending'})"
                for r in status
                if not r["run"]
            ], None
        time.sleep(1)
    waited = time.monotonic() - started
    for row in status:
        run = row["run"]
        say(
            f"  demo sync {row['tenant']:<9} -> {run['seen']} resources, {run['api_calls']} API "
            f"calls, {run['duration_ms'] / 1000:.1f} s (trigger {run['trigger']})"
        )
    return [], waited


def smoke_checks(base: str, children: list[Child], ready_after: float, env: dict) -> int:
    failures = []
    for path in ("/admin/login/", "/portal/login/", "/api/schema/", "/api/docs/"):
        # The first schema request builds the whole OpenAPI document (a few seconds, more on a
        # busy machine): the check is that each page answers, not how fast.
        status = http_status(base + path, timeout=60)
        say(f"  GET {path:<16} -> {status}")
        if status != 200:
            failures.append(f"GET {path} answered {status}")
    login = admin_login(base)
    say(f"  admin login as {login[0]!r:<10} -> {'ok' if login[1] else 'FAILED'}")
    if not login[1]:
        failures.append(f"logging in to the admin as {login[0]!r} failed")
    if len(children) > 1:
        # Celery prints "celery@host ready." once the worker consumes; beat logs its start.
        marks = {"worker": " ready.", "beat": "beat: Starting..."}
        deadline = time.monotonic() + 60
        pending = {c.name: c for c in children if c.name in marks}
        while pending and time.monotonic() < deadline:
            for name, child in list(pending.items()):
                if child.saw(marks[name]):
                    say(f"  {name:<6} ready")
                    del pending[name]
                elif child.proc.poll() is not None:
                    failures.append(f"{name} exited:\n{child.tail()}")
                    del pending[name]
            time.sleep(0.25)
        failures += [f"{name} did not report ready:\n{c.tail()}" for name, c in pending.items()]
    demo_syncs_s = None
    if any(c.name.startswith("sim-") for c in children) and not failures:
        problems, waited = wait_for_demo_syncs(env)
        failures += problems
        demo_syncs_s = round(time.monotonic() - T0, 1) if waited is not None else None
    summary = {
        "admin_ready_s": round(ready_after, 1),
        "demo_synced_s": demo_syncs_s,
        "total_s": round(time.monotonic() - T0, 1),
        "ok": not failures,
    }
    for failure in failures:
        say(f"FAILED: {failure}")
    say(f"Smoke: admin page answered {ready_after:.1f} s after the command started")
    say(json.dumps(summary))
    return 0 if not failures else 1


def cmd_stop(args) -> int:
    running = _recorded_processes()
    for name, pid in running.items():
        say(f"Stopping {name} (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for _name, pid in running.items():
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        RUN_FILE.unlink()
    stop_embedded_postgres()
    return 0


def cmd_test(args, pytest_args: list[str]) -> int:
    ensure_venv(dev=True)
    extra = {}
    if os.environ.get("DATABASE_URL"):
        source = "DATABASE_URL from the environment"
    elif not args.embedded_db and local_postgres_answers():
        extra["DATABASE_URL"] = LOCAL_PG_URL
        source = f"local PostgreSQL ({LOCAL_PG_URL})"
    else:
        step(f"Starting (or reusing) the embedded PostgreSQL in {PGDATA}")
        extra["DATABASE_URL"] = embedded_database_url()
        source = f"embedded PostgreSQL ({PGDATA})"
    env = child_env(**extra)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # pyproject.toml picks infrazen.settings.test
    cmd = [str(VENV_PY), "-m", "pytest", *pytest_args]
    step(f"Database: {source}")
    step("Running: python -m pytest " + " ".join(pytest_args))
    result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    step(f"pytest exited with {result.returncode}")
    return result.returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="infrazen.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="install, migrate, seed the demo and run web, worker and beat")
    up.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    up.add_argument("--port", type=int, help="web port (default: $PORT or 8000)")
    up.add_argument("--check", action="store_true", help="smoke test: check pages, then exit")
    up.add_argument("--no-celery", action="store_true", help="run the web server only")
    smoke = sub.add_parser("smoke", help="same as `up --check`")
    smoke.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    smoke.add_argument("--port", type=int)
    smoke.set_defaults(check=True, no_celery=False)

    test = sub.add_parser("test", help="run pytest (extra arguments go to pytest)")
    test.add_argument(
        "--embedded-db", action="store_true", help="use the embedded PostgreSQL even if :5432 runs"
    )
    setup = sub.add_parser("setup", help="create .venv and install requirements")
    setup.add_argument("--dev", action="store_true", help="also install the test tools")
    sub.add_parser("stop", help="stop processes left by `up` and the embedded PostgreSQL")

    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    os.chdir(ROOT)
    try:
        if args.command == "test":
            return cmd_test(args, rest)
        return {"up": cmd_up, "smoke": cmd_up, "setup": cmd_setup, "stop": cmd_stop}[args.command](
            args
        )
    except Failure as exc:
        say(f"ERROR: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
