"""The OpenCode server backend (design.md names this module); the code lives in ``adapters.opencode``."""

from adapters.opencode import OpenCodeServerBackend, OpenCodeSession

__all__ = ["OpenCodeServerBackend", "OpenCodeSession"]
