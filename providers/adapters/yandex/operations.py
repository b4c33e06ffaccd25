"""Yandex Cloud operation log: Compute instances' operations, read per instance.

Yandex documents ``InstanceService.ListOperations`` (REST ``GET
/compute/v1/instances/{instanceId}/operations``, ``pageSize``/``pageToken``, answering
``{"operations": [...], "nextPageToken": ...}`` of ``operation.Operation``: ``id``,
``description``, ``createdAt``, ``createdBy``, ``modifiedAt``, ``done``, ``metadata`` with its
``@type`` and ``instanceId``, and ``error`` when it failed). Our API reference
(``provider-apis.md``) documents no folder-level operation listing, so the log is read per
instance, for instances only: one listing of the instances per folder, then one call per
instance (more only for instances with more than a page of operations). Operations of deleted
instances cannot be read this way (the instance answers 404), so "deleted" comes from the sync.

The list takes no time filter, so ``since`` is applied here. When the provider answers newest
first (what the console shows), paging stops at the first page that reaches back before
``since``: a second collection reads one page per instance instead of its whole history. If the
order is anything else every page is read, which is slower but never misses an operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

from providers.adapters.base import (
    OperationAction,
    OperationRecord,
    OperationStatus,
    ProviderError,
    ProviderPermissionDenied,
    ResourceType,
)
from providers.adapters.listing import ListingReport
from providers.adapters.yandex import records
from providers.adapters.yandex.client import PROVIDER, YandexClient

# Metadata @type (without its package) -> normalized action. Everything else that changes an
# instance is an update; unknown types (the API grows) are "other".
_ACTIONS = {
    "CreateInstanceMetadata": OperationAction.CREATED,
    "DeleteInstanceMetadata": OperationAction.DELETED,
    "StartInstanceMetadata": OperationAction.STARTED,
    "StopInstanceMetadata": OperationAction.STOPPED,
    "RestartInstanceMetadata": OperationAction.OTHER,
    "UpdateInstanceMetadata": OperationAction.UPDATED,
    "UpdateInstanceMetadataMetadata": OperationAction.UPDATED,
    "AttachInstanceDiskMetadata": OperationAction.UPDATED,
    "DetachInstanceDiskMetadata": OperationAction.UPDATED,
    "AddInstanceOneToOneNatMetadata": OperationAction.UPDATED,
    "RemoveInstanceOneToOneNatMetadata": OperationAction.UPDATED,
    "UpdateInstanceNetworkInterfaceMetadata": OperationAction.UPDATED,
    "MoveInstanceMetadata": OperationAction.UPDATED,
    "RelocateInstanceMetadata": OperationAction.UPDATED,
}


def operation_record(item: dict, instance_id: str) -> OperationRecord | None:
    """One wire operation as an ``OperationRecord``; None while it is still running (it is
    stored once, so it is read again when done: collections re-read an overlap window)."""
    if not item.get("done"):
        return None
    metadata = item.get("metadata") or {}
    type_name = str(metadata.get("@type") or "").rsplit(".", 1)[-1]
    at = records.to_datetime(item.get("createdAt"))
    if at is None:
        raise ValueError(f"operation {item.get('id')} has no createdAt")
    error = item.get("error")
    return OperationRecord(
        provider_id=str(item["id"]),
        resource_provider_id=str(metadata.get("instanceId") or instance_id),
        action=_ACTIONS.get(type_name, OperationAction.OTHER),
        raw_action=str(item.get("description") or type_name),
        actor=str(item.get("createdBy") or ""),
        at=at,
        status=OperationStatus.FAILED if error else OperationStatus.DONE,
        details={
            key: value
            for key, value in (
                ("type", type_name),
                ("modified_at", item.get("modifiedAt")),
                ("error", (error or {}).get("message") if isinstance(error, dict) else None),
            )
            if value
        },
    )


class YandexOperations:
    def __init__(
        self,
        client: YandexClient,
        folder_ids: list[str],
        report: ListingReport,
        since: datetime | None,
    ) -> None:
        self.client = client
        self.folder_ids = folder_ids
        self.report = report
        self.since = since

    def __iter__(self) -> Iterator[OperationRecord]:
        for folder_id in self.folder_ids:
            instance_ids: list[str] = []
            with self.report.unit("compute", (ResourceType.VM,), folder_id):
                for page in self.client.pages(
                    "compute", "/compute/v1/instances", "instances", {"folderId": folder_id}
                ):
                    instance_ids.extend(item["id"] for item in page)
            for instance_id in instance_ids:
                yield from self.instance(instance_id, self.since)
        if self.report.problems:
            # Say which folders were not read instead of passing a partial log off as whole.
            raise ProviderPermissionDenied(
                f"{PROVIDER}: operations not read in "
                + "; ".join(w["message"] for w in self.report.warnings()),
                status=403,
            )

    def instance(self, instance_id: str, since: datetime | None) -> Iterator[OperationRecord]:
        path = f"/compute/v1/instances/{quote(instance_id, safe='')}/operations"
        previous: datetime | None = None
        newest_first = True
        try:
            for page in self.client.pages("compute", path, "operations"):
                oldest_on_page = None
                for item in page:
                    record = operation_record(item, instance_id)
                    at = records.to_datetime(item.get("createdAt"))
                    if at is not None:
                        if previous is not None and at > previous:
                            newest_first = False
                        previous = at
                        oldest_on_page = at
                    if record is not None and (since is None or record.at >= since):
                        yield record
                if newest_first and since and oldest_on_page and oldest_on_page < since:
                    return  # the rest is older still
        except ProviderError as exc:
            if exc.status == 404:
                return  # deleted since the instances were listed
            raise
