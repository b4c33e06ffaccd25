"""Walks one OpenStack project, region by region as its token's catalog lists them.

Each (service, region) list call is a listing unit of the project (``sub_account``): a 403 is
"denied" and a 404/501 "absent" for that unit only, recorded and skipped; anything else ends the
walk (see ``providers.adapters.listing``). A service the catalog does not name in a region has
nothing there: that region is simply not walked for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from providers.adapters.base import ProviderError, ResourceRecord
from providers.adapters.listing import ListingOutcome, ListingReport
from providers.adapters.openstack import records
from providers.adapters.openstack.keystone import KeystoneSession, Token, pages
from providers.adapters.openstack.services import CATALOG_TYPES, TYPES

ORDER = (
    "compute",
    "block_storage",
    "network",
    "load_balancer",
    "image",
    "database",
    "kubernetes",
)


def versioned(url: str, version: str) -> str:
    """``url`` ending in ``/<version>``: catalogs differ on whether they include it (Neutron's
    ``:9696`` vs Selectel's ``/network/v2.0``)."""
    url = url.rstrip("/")
    return url if url.endswith("/" + version) or f"/{version}/" in url + "/" else f"{url}/{version}"


class ProjectWalker:
    """Lists one project's resources with a project-scoped ``KeystoneSession``."""

    def __init__(
        self,
        session: KeystoneSession,
        project_id: str,
        report: ListingReport,
        *,
        regions: Sequence[str] = (),
        catalog_types: Mapping[str, tuple[str, ...]] | None = None,
        services: Sequence[str] = ORDER,
        page_size: int = 1000,
        provider: str = "",
    ) -> None:
        self.session = session
        self.project_id = project_id
        self.report = report
        self.regions = tuple(regions)
        self.catalog_types = {**CATALOG_TYPES, **(catalog_types or {})}
        self.services = tuple(services)
        self.page_size = page_size
        self.provider = provider
        self._flavors: dict[str, dict[str, Mapping[str, Any]]] = {}
        # "region/address" -> server id, for floating IPs (Nova lists them among addresses).
        self._vm_by_ip: dict[str, str] = {}

    # -- catalog ---------------------------------------------------------------------------------

    def endpoints(self, service: str, token: Token | None = None) -> dict[str, str]:
        """Region -> base URL of ``service`` in this project's catalog, within the scope's
        regions."""
        found = (token or self.session.token()).endpoints(self.catalog_types[service])
        if self.regions:
            found = {r: u for r, u in found.items() if r in self.regions}
        return dict(sorted(found.items()))

    def _pages(self, url: str, key: str, params: Mapping[str, Any] | None = None):
        return pages(self.session, url, key, params, limit=self.page_size, provider=self.provider)

    def _all(self, url: str, key: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        return [item for page in self._pages(url, key, params) for item in page]

    # -- the walk --------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[ResourceRecord]:
        token = self.session.token()
        for service in self.services:
            types = TYPES[service]
            walk = getattr(self, f"_{service}")
            for region, url in self.endpoints(service, token).items():
                with self.report.unit(service, types, self.project_id):
                    yield from walk(region, url)
            # A service in no region of the catalog lists nothing, completely.
            self.report.record(service, types, self.project_id, ListingOutcome.COMPLETE)

    def flavors(self, region: str, url: str) -> dict[str, Mapping[str, Any]]:
        if region not in self._flavors:
            self._flavors[region] = {
                str(f.get("id")): f
                for f in self._all(f"{url}/flavors/detail", "flavors", {"is_public": "None"})
                if isinstance(f, Mapping)
            }
        return self._flavors[region]

    def _compute(self, region: str, url: str) -> Iterator[ResourceRecord]:
        flavors = self.flavors(region, url)
        for page in self._pages(f"{url}/servers/detail", "servers"):
            for item in page:
                record = records.server(
                    item, region=region, project_id=self.project_id, flavors=flavors
                )
                for address in record.properties.get("addresses", ()):
                    self._vm_by_ip[f"{region}/{address}"] = record.provider_id
                yield record

    def _block_storage(self, region: str, url: str) -> Iterator[ResourceRecord]:
        for page in self._pages(f"{url}/volumes/detail", "volumes"):
            for item in page:
                yield records.volume(item, region=region, project_id=self.project_id)
        for page in self._pages(f"{url}/snapshots/detail", "snapshots"):
            for item in page:
                yield records.snapshot(item, region=region, project_id=self.project_id)

    def _network(self, region: str, url: str) -> Iterator[ResourceRecord]:
        by_ip = self._vm_by_ip
        base = versioned(url, "v2.0")
        for page in self._pages(
            f"{base}/floatingips", "floatingips", {"project_id": self.project_id}
        ):
            for item in page:
                owners = {}
                for key in ("floating_ip_address", "fixed_ip_address"):
                    vm = by_ip.get(f"{region}/{item.get(key)}")
                    if vm and item.get("port_id"):
                        owners[str(item["port_id"])] = vm
                        break
                yield records.floating_ip(
                    item, region=region, project_id=self.project_id, vm_by_port=owners
                )

    def _load_balancer(self, region: str, url: str) -> Iterator[ResourceRecord]:
        base = versioned(url, "v2")
        for page in self._pages(
            f"{base}/lbaas/loadbalancers", "loadbalancers", {"project_id": self.project_id}
        ):
            for item in page:
                yield records.load_balancer(item, region=region, project_id=self.project_id)

    def _image(self, region: str, url: str) -> Iterator[ResourceRecord]:
        # The project's own images only: public ones are the provider's and cost nothing here.
        base = versioned(url, "v2")
        for page in self._pages(f"{base}/images", "images", {"owner": self.project_id}):
            for item in page:
                if str(item.get("owner") or self.project_id) != self.project_id:
                    continue
                yield records.image(item, region=region, project_id=self.project_id)

    # Trove's catalog URL ends with /v1.0/<project> and lists "instances"; Selectel's DBaaS
    # lists "datastores" under /v1.
    database_collection = "instances"
    database_version = ""

    def _database(self, region: str, url: str) -> Iterator[ResourceRecord]:
        base = versioned(url, self.database_version) if self.database_version else url
        flavors = self._flavors.get(region)
        key = self.database_collection
        for page in self._pages(f"{base}/{key}", key):
            for item in page:
                yield records.database(
                    item, region=region, project_id=self.project_id, flavors=flavors
                )

    def _kubernetes(self, region: str, url: str) -> Iterator[ResourceRecord]:
        base = versioned(url, "v1")
        clusters = self._all(f"{base}/clusters", "clusters")
        for item in clusters:
            cluster = records.k8s_cluster(item, region=region, project_id=self.project_id)
            yield cluster
            for group in self.node_groups(base, cluster.provider_id):
                yield records.k8s_node_group(
                    group,
                    cluster_id=cluster.provider_id,
                    region=region,
                    project_id=self.project_id,
                    flavors=self._flavors.get(region),
                )

    def node_groups(self, url: str, cluster_id: str) -> list[dict]:
        """Magnum: ``/clusters/{id}/nodegroups``; Selectel MKS the same path."""
        body = self.session.get(f"{url}/clusters/{cluster_id}/nodegroups")
        groups = body.get("nodegroups") or []
        if not isinstance(groups, list):
            raise ProviderError(f"{self.provider}: node groups of {cluster_id} are not a list")
        return [g for g in groups if isinstance(g, Mapping)]


# Where a probe lists one item of each service (path under the service's catalog URL).
PROBE_PATHS = {
    "compute": ("", "servers/detail"),
    "block_storage": ("", "volumes/detail"),
    "network": ("v2.0", "floatingips"),
    "load_balancer": ("v2", "lbaas/loadbalancers"),
    "image": ("v2", "images"),
    "kubernetes": ("v1", "clusters"),
}


def probe_services(walker: ProjectWalker, names: Mapping[str, str]) -> list[Any]:
    """One cheap call per service of the walker's project (first region of each), as
    ``ServiceProbe``s: readable, denied (403), absent (404/501, or in no region of the catalog)."""
    from providers.adapters.base import ServiceProbe
    from providers.adapters.listing import outcome_of

    probes = []
    token = walker.session.token()
    for service in walker.services:
        name = names.get(service, service)
        regions = walker.endpoints(service, token)
        if not regions:
            probes.append(ServiceProbe(service, name, str(ListingOutcome.ABSENT), "not in catalog"))
            continue
        url = next(iter(regions.values()))
        if service == "database":
            version, path = walker.database_version, walker.database_collection
        else:
            version, path = PROBE_PATHS[service]
        base = versioned(url, version) if version else url
        try:
            walker.session.get(f"{base}/{path}", {"limit": 1})
        except ProviderError as exc:
            outcome = outcome_of(exc)
            if outcome is None and exc.status == 401:
                raise
            probes.append(
                ServiceProbe(service, name, str(outcome or ListingOutcome.FAILED), str(exc))
            )
            continue
        probes.append(ServiceProbe(service, name, str(ListingOutcome.COMPLETE)))
    return probes


def probe_summary(probes) -> str:
    readable = [p.name for p in probes if p.outcome == ListingOutcome.COMPLETE]
    other = [f"{p.name} ({p.outcome})" for p in probes if p.outcome != ListingOutcome.COMPLETE]
    parts = []
    if readable:
        parts.append("readable: " + ", ".join(readable))
    if other:
        parts.append("not readable: " + ", ".join(other))
    return "; ".join(parts)
