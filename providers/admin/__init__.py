"""Admin for the providers app, one module per area; importing them registers every admin."""

from providers.admin import (  # noqa: F401  (registration happens on import)
    balances,
    connections,
    cost_sources,
    costs,
    inventory,
    platform,
)
