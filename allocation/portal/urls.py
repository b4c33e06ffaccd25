"""The allocation app's portal pages: the overview (costs by business dimension), dimensions,
tags (discovery, compliance, aliases, required keys, virtual tags), mapping rules and member
access; mounted in the ``portal`` namespace by ``infrazen/portal_urls.py``."""

from django.utils.translation import gettext_lazy as _

from allocation.models import DIMENSION_MODELS
from allocation.portal import access, dimensions, rules, shared, tags
from core.capabilities import Capability
from core.portal.registry import NavEntry, portal_path

NAVIGATION = [NavEntry("allocation", _("Allocation"), "portal:allocation", order=27)]

MANAGE = Capability.MANAGE_ALLOCATION.value
RULE = {"object_model": "allocation.TagRule", "object_param": "pk"}

urlpatterns = [
    portal_path("allocation/", dimensions.overview, "allocation"),
    portal_path("allocation/dimensions/", dimensions.dimensions, "allocation_dimensions"),
    portal_path(
        "allocation/dimensions/add/",
        dimensions.dimensions_add,
        "allocation_dimensions_add",
        methods=("POST",),
        capability=MANAGE,
    ),
]
for kind, model in DIMENSION_MODELS.items():
    label = f"allocation.{model.__name__}"
    urlpatterns += [
        portal_path(
            f"allocation/dimensions/{kind}/<int:pk>/edit/",
            dimensions.dimension_edit_view(kind),
            f"allocation_{kind}_edit",
            methods=("GET", "POST"),
            capability=MANAGE,
            object_model=label,
            object_param="pk",
            post_data={"name": "Renamed"},
        ),
        portal_path(
            f"allocation/dimensions/{kind}/<int:pk>/delete/",
            dimensions.dimension_delete_view(kind),
            f"allocation_{kind}_delete",
            methods=("POST",),
            capability=MANAGE,
            object_model=label,
            object_param="pk",
        ),
    ]
urlpatterns += [
    # Tags
    portal_path("allocation/tags/", tags.tags, "allocation_tags"),
    portal_path(
        "allocation/tags/aliases/add/",
        tags.alias_add,
        "allocation_tags_alias_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/tags/aliases/<int:pk>/delete/",
        tags.alias_delete,
        "allocation_tags_alias_delete",
        methods=("POST",),
        capability=MANAGE,
        object_model="allocation.TagAlias",
        object_param="pk",
    ),
    portal_path(
        "allocation/tags/required/add/",
        tags.required_add,
        "allocation_tags_required_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/tags/required/<int:pk>/delete/",
        tags.required_delete,
        "allocation_tags_required_delete",
        methods=("POST",),
        capability=MANAGE,
        object_model="allocation.RequiredTag",
        object_param="pk",
    ),
    portal_path(
        "allocation/tags/virtual/add/",
        tags.virtual_add,
        "allocation_tags_virtual_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/tags/virtual/<int:pk>/delete/",
        tags.virtual_delete,
        "allocation_tags_virtual_delete",
        methods=("POST",),
        capability=MANAGE,
        object_model="allocation.VirtualTag",
        object_param="pk",
    ),
    # Mapping rules
    portal_path("allocation/rules/", rules.rules, "allocation_rules"),
    portal_path(
        "allocation/rules/add/",
        rules.rules_add,
        "allocation_rules_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/rules/<int:pk>/edit/",
        rules.rules_edit,
        "allocation_rules_edit",
        methods=("GET", "POST"),
        capability=MANAGE,
        post_data={"name": "Renamed"},
        **RULE,
    ),
    portal_path(
        "allocation/rules/<int:pk>/delete/",
        rules.rules_delete,
        "allocation_rules_delete",
        methods=("POST",),
        capability=MANAGE,
        **RULE,
    ),
    portal_path(
        "allocation/rules/<int:pk>/move/",
        rules.rules_move,
        "allocation_rules_move",
        methods=("POST",),
        capability=MANAGE,
        post_data={"direction": "up"},
        **RULE,
    ),
    portal_path(
        "allocation/rules/reapply/",
        rules.rules_reapply,
        "allocation_rules_reapply",
        methods=("POST",),
        capability=MANAGE,
    ),
    # Shared costs
    portal_path(
        "allocation/shared/",
        shared.shared,
        "allocation_shared",
        capability=Capability.VIEW_COSTS.value,
    ),
    portal_path(
        "allocation/shared/add/",
        shared.shared_add,
        "allocation_shared_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/shared/<int:pk>/delete/",
        shared.shared_delete,
        "allocation_shared_delete",
        methods=("POST",),
        capability=MANAGE,
        object_model="allocation.AllocationRule",
        object_param="pk",
    ),
    portal_path(
        "allocation/shared/recompute/",
        shared.shared_recompute,
        "allocation_shared_recompute",
        methods=("POST",),
        capability=MANAGE,
    ),
    # Who sees what
    portal_path("allocation/access/", access.access, "allocation_access"),
    portal_path(
        "allocation/access/<int:pk>/",
        access.access_set,
        "allocation_access_set",
        methods=("POST",),
        capability=Capability.MANAGE_MEMBERS.value,
        object_model="core.Membership",
        object_param="pk",
    ),
]
