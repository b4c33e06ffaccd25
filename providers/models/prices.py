"""Price lists that operators keep for providers without a cost API (VK Cloud): what one unit of
a resource costs per hour, from a date. Estimates (``providers.services.estimates``) multiply the
inventory by the price in force on each day; they are flagged ``x_estimated`` and never billed."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from providers.models.resources import TYPE_CHOICES


class ProviderPrice(models.Model):
    """One price of a provider's price list, in force from ``valid_from`` until a newer one for
    the same (provider, resource type, metric, variant) starts: the list is versioned by date."""

    class Metric(models.TextChoices):
        HOUR = "hour", _("per resource-hour")
        VCPU_HOUR = "vcpu_hour", _("per vCPU-hour")
        MEMORY_GIB_HOUR = "memory_gib_hour", _("per GiB of memory-hour")
        STORAGE_GIB_HOUR = "storage_gib_hour", _("per GiB of storage-hour")

    provider = models.CharField(_("provider"), max_length=32)
    resource_type = models.CharField(_("resource type"), max_length=32, choices=TYPE_CHOICES)
    metric = models.CharField(_("metric"), max_length=24, choices=Metric.choices)
    variant = models.CharField(
        _("variant"),
        max_length=100,
        blank=True,
        help_text=_(
            "A disk type or flavor name this price is for (e.g. ssd, Standard-2-4); empty: any."
        ),
    )
    valid_from = models.DateField(_("valid from"))
    price = models.DecimalField(_("price per unit-hour"), max_digits=18, decimal_places=6)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["provider", "resource_type", "metric", "variant", "-valid_from"]
        verbose_name = _("provider price")
        verbose_name_plural = _("provider prices")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "resource_type", "metric", "variant", "valid_from"],
                name="provider_price_unique",
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="provider_price_gte_0"),
        ]

    def __str__(self) -> str:
        variant = f" {self.variant}" if self.variant else ""
        return (
            f"{self.provider} {self.resource_type}{variant} {self.metric} from "
            f"{self.valid_from}: {self.price} {self.currency}"
        )
