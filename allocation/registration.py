"""What allocation plugs into core and providers (called from ``AllocationConfig.ready``):

- every cost import maps its rows with the tenant's rules, inside the import's transaction and
  before the rollups are rebuilt (``providers.costs.hooks.register_after_rows_loaded``), whatever
  the import path (FOCUS files, bucket pulls, Yandex day files, uploads, provider APIs: they all
  load through ``providers.costs.loader``); once the rollups of its days are rebuilt, the
  shared costs of those days are allocated (``register_after_rollups``);
- the cost query and the FOCUS export name dimension values and virtual tags, and the cost
  query adds the shared-cost results on request (``register_allocated_costs``); the FOCUS 1.3
  export splits pooled charges into their shares (``register_split_allocations``);
- the ``business_metric`` basis for shared-cost rules (``allocation.metric_basis``);
- memberships may be limited to values of the five dimensions (``core.dimensions``).
"""

from __future__ import annotations


def register() -> None:
    from allocation import metric_basis
    from allocation.models import DIMENSION_MODELS
    from allocation.selectors import dimension_names
    from allocation.services.runs import map_imported_rows
    from allocation.services.shared import allocate_after_rollups
    from allocation.sharing import split_relation
    from core.dimensions import register_scope_dimension
    from providers.costs import hooks

    metric_basis.register()
    hooks.register_after_rows_loaded(map_imported_rows)
    hooks.register_after_rollups(allocate_after_rollups)
    hooks.register_allocated_costs("cost_allocations")
    hooks.register_split_allocations(split_relation)
    hooks.register_dimension_names(dimension_names)
    for key, model in DIMENSION_MODELS.items():
        register_scope_dimension(key, model._meta.verbose_name, _unknown_ids(model))


def _unknown_ids(model):
    def unknown(tenant, ids: list[int]) -> set[int]:
        found = set(
            model.objects.filter(tenant_id=tenant.pk, pk__in=ids).values_list("pk", flat=True)
        )
        return set(ids) - found

    return unknown
