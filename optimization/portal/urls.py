"""The optimization app's portal pages. None are served yet: the navigation announces the
sections, shown as "coming soon" until their URLs exist (see ``core.portal.registry.NavEntry``)."""

from django.utils.translation import gettext_lazy as _

from core.portal.registry import NavEntry

NAVIGATION = [
    NavEntry("budgets", _("Budgets"), "portal:budgets", order=40),
    NavEntry("savings", _("Savings"), "portal:savings", order=50),
]

urlpatterns: list = []
