"""Shared parts of the two Store adapters: the versioned schema and the row <-> record mapping.

The stores themselves live in ``adapters.store_sqlite`` (embedded default) and ``adapters.store_postgres``.
"""

from adapters.store.schema import LATEST_VERSION, SchemaTooNewError, StoreUnavailableError

__all__ = ["LATEST_VERSION", "SchemaTooNewError", "StoreUnavailableError"]
