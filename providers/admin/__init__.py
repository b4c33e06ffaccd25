"""Admin for the providers app, one module per area; importing them registers every admin."""

from providers.admin import (  # noqa: F401  (registration happens on import)
    connections,
    cost_sources,
    costs,
    inventory,
    platform,
)
