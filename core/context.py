"""Who is acting, from where: set by the request middleware, task base and commands."""

from __future__ import annotations

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class ActionContext:
    source: str = "system"
    request_id: str = ""
    ip_address: str | None = None


_current: ContextVar[ActionContext] = ContextVar(
    "infrazen_action_context",
    default=ActionContext(),  # noqa: B039 (frozen dataclass: immutable)
)


def current() -> ActionContext:
    return _current.get()


@contextlib.contextmanager
def acting(source: str, *, request_id: str | None = None, ip_address: str | None = None):
    token = _current.set(
        ActionContext(
            source=source, request_id=request_id or uuid.uuid4().hex, ip_address=ip_address
        )
    )
    try:
        yield _current.get()
    finally:
        _current.reset(token)
