"""The warm ACP backend (the implementation lives in ``adapters.acp``)."""

from adapters.acp.backend import WarmAcpBackend

__all__ = ["WarmAcpBackend"]
