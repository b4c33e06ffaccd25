"""Nova instance actions as the operation log, and one server re-read (the webhook refresh).

``since``: servers changed since then (``changes-since`` lists deleted ones too, with status
DELETED), then each one's ``os-instance-actions``; without ``since`` every live server's. One
call per changed server: cheap for an hourly log, not for a first full read of a big account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from providers.adapters.base import (
    OperationAction,
    OperationRecord,
    OperationStatus,
    ProviderError,
    ResourceRecord,
)
from providers.adapters.openstack import records
from providers.adapters.openstack.discovery import ProjectWalker

ACTIONS = {
    "create": OperationAction.CREATED,
    "delete": OperationAction.DELETED,
    "force_delete": OperationAction.DELETED,
    "start": OperationAction.STARTED,
    "unpause": OperationAction.STARTED,
    "resume": OperationAction.STARTED,
    "unshelve": OperationAction.STARTED,
    "stop": OperationAction.STOPPED,
    "pause": OperationAction.STOPPED,
    "suspend": OperationAction.STOPPED,
    "shelve": OperationAction.STOPPED,
    "update": OperationAction.UPDATED,
    "resize": OperationAction.UPDATED,
    "confirmResize": OperationAction.UPDATED,
    "rebuild": OperationAction.UPDATED,
    "reboot": OperationAction.UPDATED,
    "attach_volume": OperationAction.UPDATED,
    "detach_volume": OperationAction.UPDATED,
}


class InstanceActions:
    def __init__(self, walker: ProjectWalker) -> None:
        self.walker = walker

    def since(self, since: datetime | None) -> Iterator[OperationRecord]:
        walker = self.walker
        params: dict[str, Any] = {}
        if since is not None:
            params["changes-since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: list[OperationRecord] = []
        for region, url in walker.endpoints("compute").items():
            for page in walker._pages(f"{url}/servers/detail", "servers", params):
                for server in page:
                    if not isinstance(server, Mapping) or not server.get("id"):
                        continue
                    body = walker.session.get(f"{url}/servers/{server['id']}/os-instance-actions")
                    for action in body.get("instanceActions") or ():
                        record = _record(action, str(server["id"]), region)
                        if record is not None and (since is None or record.at >= since):
                            found.append(record)
        yield from sorted(found, key=lambda r: (r.at, r.provider_id))

    def server(self, server_id: str) -> ResourceRecord | None:
        """The server as discovery yields it, from whichever region of the project has it."""
        walker = self.walker
        for region, url in walker.endpoints("compute").items():
            try:
                body = walker.session.get(f"{url}/servers/{server_id}")
            except ProviderError as exc:
                if exc.status == 404:
                    continue
                raise
            item = body.get("server")
            if isinstance(item, Mapping) and item.get("status") != "DELETED":
                flavors = walker.flavors(region, url)
                return records.server(
                    item, region=region, project_id=walker.project_id, flavors=flavors
                )
        return None


def _record(action: Any, server_id: str, region: str) -> OperationRecord | None:
    if not isinstance(action, Mapping):
        return None
    at = records.to_datetime(action.get("start_time"))
    request_id = action.get("request_id")
    if at is None or not request_id:
        return None
    raw = str(action.get("action") or "")
    message = action.get("message")
    return OperationRecord(
        provider_id=str(request_id),
        resource_provider_id=str(action.get("instance_uuid") or server_id),
        action=ACTIONS.get(raw, OperationAction.OTHER),
        raw_action=raw,
        at=at,
        actor=str(action.get("user_id") or ""),
        status=OperationStatus.FAILED
        if message and "error" in str(message).lower()
        else OperationStatus.DONE,
        details={"region": region, **({"message": str(message)} if message else {})},
    )
