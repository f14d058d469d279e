"""The OpenCode server backend: `opencode serve` spawned, supervised and driven over HTTP + SSE."""

from adapters.opencode.backend import OpenCodeServerBackend
from adapters.opencode.session import OpenCodeSession

__all__ = ["OpenCodeServerBackend", "OpenCodeSession"]
