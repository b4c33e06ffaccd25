"""The allocation app's portal pages: the overview (costs by business dimension), dimensions,
tags (discovery, compliance, aliases, required keys, virtual tags), mapping rules and member
access; mounted in the ``portal`` namespace by ``infrazen/portal_urls.py``."""

from django.utils.translation import gettext_lazy as _

from allocation.models import DIMENSION_MODELS
from allocation.portal import access, billing, dimensions, metrics, rules, shared, tags
from core.capabilities import Capability
from core.portal.registry import NavEntry, portal_path

NAVIGATION = [NavEntry("allocation", _("Allocation"), "portal:allocation", order=27)]

MANAGE = Capability.MANAGE_ALLOCATION.value
RULE = {"object_model": "allocation.TagRule", "object_param": "pk"}
METRIC = {"object_model": "allocation.BusinessMetric", "object_param": "pk"}
INVOICE = {"object_model": "allocation.Invoice", "object_param": "pk"}
BOOK = {"object_model": "allocation.PriceBook", "object_param": "pk"}
BILLING = Capability.MANAGE_BILLING.value

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
    # Unit economics
    portal_path("allocation/units/", metrics.units, "allocation_units"),
    portal_path(
        "allocation/units/add/",
        metrics.units_add,
        "allocation_units_add",
        methods=("POST",),
        capability=MANAGE,
    ),
    portal_path(
        "allocation/units/<int:pk>/upload/",
        metrics.units_upload,
        "allocation_units_upload",
        methods=("POST",),
        capability=MANAGE,
        **METRIC,
    ),
    portal_path(
        "allocation/units/<int:pk>/pull/",
        metrics.units_pull,
        "allocation_units_pull",
        methods=("POST",),
        capability=MANAGE,
        **METRIC,
    ),
    portal_path(
        "allocation/units/<int:pk>/delete/",
        metrics.units_delete,
        "allocation_units_delete",
        methods=("POST",),
        capability=MANAGE,
        **METRIC,
    ),
    # Chargeback
    portal_path("allocation/chargeback/", billing.chargeback, "allocation_chargeback"),
    portal_path(
        "allocation/invoices/generate/",
        billing.invoice_generate_view,
        "allocation_invoice_generate",
        methods=("POST",),
        capability=BILLING,
    ),
    portal_path(
        "allocation/invoices/<int:pk>/", billing.invoice_detail, "allocation_invoice", **INVOICE
    ),
    portal_path(
        "allocation/invoices/<int:pk>/download/",
        billing.invoice_download,
        "allocation_invoice_download",
        **INVOICE,
    ),
    portal_path(
        "allocation/invoices/<int:pk>/issue/",
        billing.invoice_issue_view,
        "allocation_invoice_issue",
        methods=("POST",),
        capability=BILLING,
        **INVOICE,
    ),
    portal_path(
        "allocation/invoices/<int:pk>/reissue/",
        billing.invoice_reissue_view,
        "allocation_invoice_reissue",
        methods=("POST",),
        capability=BILLING,
        post_data={"reason": "correction"},
        **INVOICE,
    ),
    portal_path(
        "allocation/invoices/<int:pk>/email/",
        billing.invoice_email_view,
        "allocation_invoice_email",
        methods=("POST",),
        capability=BILLING,
        **INVOICE,
    ),
    portal_path("allocation/price-books/", billing.price_books, "allocation_price_books"),
    portal_path(
        "allocation/price-books/add/",
        billing.price_books_add,
        "allocation_price_books_add",
        methods=("POST",),
        capability=BILLING,
    ),
    portal_path(
        "allocation/price-books/<int:pk>/rules/add/",
        billing.price_book_rule_add,
        "allocation_price_book_rule_add",
        methods=("POST",),
        capability=BILLING,
        post_data={"rule-provider_name": "Selectel", "rule-markup": "0.1"},
        **BOOK,
    ),
    portal_path(
        "allocation/price-books/<int:pk>/charges/add/",
        billing.price_book_charge_add,
        "allocation_price_book_charge_add",
        methods=("POST",),
        capability=BILLING,
        post_data={"charge-kind": "fixed_fee", "charge-description": "Fee", "charge-amount": "1"},
        **BOOK,
    ),
]
