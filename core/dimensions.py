"""Dimension-scoped access: a membership limited to some values of business dimensions.

A membership's ``dimension_scope`` is ``{}`` (the whole tenant) or ``{dimension: [ids]}``, e.g.
``{"project": [3, 5]}``: the member sees only rows that belong to projects 3 or 5. Several
dimensions narrow each other (``{"project": [3], "environment": [1]}``: project 3 in
environment 1). Core knows no dimension: a feature app declares each dimension it owns with
``register_scope_dimension`` (its name and how to check that ids belong to a tenant), and each
tenant-owned model declares how its rows map to dimensions (``TenantOwnedModel.dimension_lookups``
/ ``dimension_filter``). ``Model.objects.for_user`` applies both (see ``core.access``).

Limits apply to members who see a tenant only through such a membership: an unrestricted grant
on the tenant or one of its ancestors (an MSP operator, say) sees everything, as grants add up.
A limited grant is not inherited by sub-tenants (their dimension values are their own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Roles that may be limited: the others administer the tenant as a whole.
LIMITABLE_ROLES = frozenset({"viewer", "engineer", "finance"})
MAX_IDS = 1000


@dataclass(frozen=True)
class ScopeDimension:
    key: str
    label: str
    # (tenant, ids) -> the ids that are NOT values of this dimension in the tenant.
    unknown_ids: Callable[[object, list[int]], Iterable[int]]


_DIMENSIONS: dict[str, ScopeDimension] = {}


def register_scope_dimension(
    key: str, label: str, unknown_ids: Callable[[object, list[int]], Iterable[int]]
) -> None:
    """Declare a dimension memberships may be limited by (called from an AppConfig.ready)."""
    _DIMENSIONS[key] = ScopeDimension(key, label, unknown_ids)


def scope_dimensions() -> list[ScopeDimension]:
    return list(_DIMENSIONS.values())


def clean_scope(tenant, value) -> dict[str, list[int]]:
    """``value`` checked and normalised (sorted unique ids), or ValidationError naming the
    ``dimension_scope`` field."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _error(_('Give an object such as {"project": [3, 5]}, or {} for no limit.'))
    cleaned: dict[str, list[int]] = {}
    for key, ids in value.items():
        dimension = _DIMENSIONS.get(key)
        if dimension is None:
            known = ", ".join(sorted(_DIMENSIONS)) or _("none")
            raise _error(
                _("Unknown dimension %(key)r (known: %(known)s).") % {"key": key, "known": known}
            )
        if not isinstance(ids, list | tuple) or not ids:
            raise _error(_("%(key)s: give a non-empty list of ids.") % {"key": key})
        if len(ids) > MAX_IDS:
            raise _error(_("%(key)s: at most %(max)d ids.") % {"key": key, "max": MAX_IDS})
        if not all(type(i) is int and 0 < i < 2**63 for i in ids):
            raise _error(_("%(key)s: ids are positive whole numbers.") % {"key": key})
        unique = sorted(set(ids))
        unknown = sorted(dimension.unknown_ids(tenant, unique))
        if unknown:
            raise _error(
                _("%(key)s: no such value in this tenant: %(ids)s.")
                % {"key": key, "ids": ", ".join(map(str, unknown))}
            )
        cleaned[key] = unique
    return cleaned


def _error(message: str) -> ValidationError:
    return ValidationError({"dimension_scope": [message]})
