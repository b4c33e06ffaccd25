"""Provider-neutral parts of the simulators: the HTTP server base, fault knobs, wire helpers.

Each provider's simulator lives beside its adapter (``providers/adapters/<provider>/simulator*``)
and builds on these (see ``providers/adapters/README.md``).
"""

from providers.adapters.simulation.faults import KINDS, Fault, FaultPlan
from providers.adapters.simulation.server import (
    SimRequest,
    SimResponse,
    SimulatedError,
    SimulatorServer,
    SimulatorStats,
)

__all__ = [
    "KINDS",
    "Fault",
    "FaultPlan",
    "SimRequest",
    "SimResponse",
    "SimulatedError",
    "SimulatorServer",
    "SimulatorStats",
]
