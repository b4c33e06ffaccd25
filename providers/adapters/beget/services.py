"""The Beget services the adapter reads, in words, with what lets an account read each.

Keys are the listing-unit service names the adapter records and the simulator's permission knobs
accept: the hosting API's sections (``user``, ``site``, ``domain``, ``mysql``, ``backup``), whose
access is switched on per account in the control panel's API settings, and the parts of the VPS
API (servers, statistics, history).
"""

from __future__ import annotations

from providers.adapters.listing import ServiceInfo

_HOSTING = "API access to this section (control panel → API)"

SERVICES: dict[str, ServiceInfo] = {
    "user": ServiceInfo("Account", _HOSTING),
    "site": ServiceInfo("Sites", _HOSTING),
    "domain": ServiceInfo("Domains", _HOSTING),
    "mysql": ServiceInfo("MySQL databases", _HOSTING),
    "backup": ServiceInfo("Backups", _HOSTING),
    "vps": ServiceInfo("Cloud servers (VPS)", "a VPS API login or token"),
    "vps_statistic": ServiceInfo("VPS statistics", "a VPS API login or token"),
    "vps_history": ServiceInfo("VPS history", "a VPS API login or token"),
}
