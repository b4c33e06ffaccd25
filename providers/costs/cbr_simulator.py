"""A Central Bank of Russia daily-rates simulator (``/scripts/XML_daily.asp?date_req=DD/MM/YYYY``).

Deterministic: the same date always gives the same rates. Like the CBR, it answers any date with
the rates in effect on it: rates are set on business days (Mon-Fri, not on the January holidays)
and take effect the next day, so Sunday and Monday answer with Saturday's rates and ``ValCurs
Date`` names the day they took effect. windows-1251, decimal commas, and the CBR's nominals
(JPY and KZT per 100 units).

    with CbrSimulator() as cbr:
        fetch_cbr(day, base_url=cbr.rates_url)
    python -m providers.costs.cbr_simulator --port 8710
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PATH = "/scripts/XML_daily.asp"
# CharCode -> (ID, NumCode, Nominal, Russian name, RUB for Nominal units around which it moves)
CURRENCIES = {
    "USD": ("R01235", "840", 1, "Доллар США", "92.5058"),
    "EUR": ("R01239", "978", 1, "Евро", "99.8714"),
    "CNY": ("R01375", "156", 1, "Китайский юань", "12.7036"),
    "GBP": ("R01035", "826", 1, "Фунт стерлингов Соединенного королевства", "116.4120"),
    "JPY": ("R01820", "392", 100, "Японских иен", "61.5033"),
    "KZT": ("R01335", "398", 100, "Казахстанских тенге", "17.9655"),
    "TRY": ("R01700J", "949", 10, "Турецких лир", "28.4810"),
    "BYN": ("R01090B", "933", 1, "Белорусский рубль", "28.3104"),
}
BAD_DATE_ANSWER = (
    b'<?xml version="1.0" encoding="windows-1251"?><ValCurs>Error in parameters</ValCurs>'
)
# Non-working days without new rates (the January holidays; enough for a realistic gap).
HOLIDAYS = frozenset((1, d) for d in range(1, 9))


def effective_date(day: dt.date) -> dt.date:
    """The latest day on or before ``day`` on which new rates took effect."""
    candidate = day
    while not _sets_rates(candidate - dt.timedelta(days=1)):
        candidate -= dt.timedelta(days=1)
    return candidate


def _sets_rates(day: dt.date) -> bool:
    return day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS


def rate_for(code: str, day: dt.date) -> Decimal:
    """RUB for Nominal units on an effective date: the base moved by up to ±3%, 4 decimals."""
    base = Decimal(CURRENCIES[code][4])
    digest = hashlib.sha256(f"{code}:{day.isoformat()}".encode()).digest()
    drift = Decimal(int.from_bytes(digest[:4], "big") % 6001 - 3000) / Decimal(100000)
    return (base * (1 + drift)).quantize(Decimal("0.0001"))


def document(day: dt.date) -> bytes:
    effective = effective_date(day)
    parts = [
        '<?xml version="1.0" encoding="windows-1251"?>',
        f'<ValCurs Date="{effective:%d.%m.%Y}" name="Foreign Currency Market">',
    ]
    for code, (cbr_id, num, nominal, name, _) in CURRENCIES.items():
        value = rate_for(code, effective)
        per_unit = (value / nominal).quantize(Decimal("0.000001"))
        parts.append(
            f'<Valute ID="{cbr_id}"><NumCode>{num}</NumCode><CharCode>{code}</CharCode>'
            f"<Nominal>{nominal}</Nominal><Name>{name}</Name>"
            f"<Value>{_comma(value)}</Value><VunitRate>{_comma(per_unit)}</VunitRate></Valute>"
        )
    parts.append("</ValCurs>")
    return "".join(parts).encode("cp1251")


def _comma(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


class CbrSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port_wanted = host, port
        self.requests: list[str] = []
        self.fail_next = 0  # answer this many requests with 503
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CbrSimulator:
        self._server = ThreadingHTTPServer((self.host, self.port_wanted), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CbrSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rates_url(self) -> str:
        assert self._server is not None, "not running"
        return f"http://{self.host}:{self._server.server_address[1]}{PATH}"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append(query.get("date_req", ""))
        if path != PATH:
            return 404, b"Not found"
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, b"Service Unavailable"
        text = query.get("date_req")
        try:
            day = dt.datetime.strptime(text, "%d/%m/%Y").date() if text else dt.date.today()
        except ValueError:
            # The real service answers a bad date with an error document, not an HTTP error.
            return 200, BAD_DATE_ANSWER
        return 200, document(day)


def _handler(sim: CbrSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, body = sim.answer(parts.path, dict(parse_qsl(parts.query)))
            self.send_response(status)
            self.send_header("Content-Type", "application/xml; charset=windows-1251")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.costs.cbr_simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sim = CbrSimulator(args.host, args.port).start()
    print(f"CBR rates simulator on {sim.rates_url}", flush=True)
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
