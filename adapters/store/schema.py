"""The version runner: which of the scripts in ``adapters.store.migrations`` a database still needs.

A migration is append-only: never edit a released version, add the next one. Both stores apply the
missing versions at open inside one write transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
advisory lock), record each in ``schema_version``, and refuse a database newer than this code.
"""

from __future__ import annotations

from adapters.store.migrations import MIGRATIONS, Dialect
from core.ports.store import StoreUnavailable


class StoreUnavailableError(StoreUnavailable, RuntimeError):
    """The database cannot be opened or reached at start; the message names it and what to check."""


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer hearth; running old code against it could corrupt it."""

    def __init__(self, found: int, known: int, where: str) -> None:
        super().__init__(
            f"database schema is version {found}, this hearth knows up to {known}: upgrade hearth (database: {where})"
        )
        self.found = found
        self.known = known


LATEST_VERSION = max(MIGRATIONS["sqlite"])
assert set(MIGRATIONS["sqlite"]) == set(MIGRATIONS["postgres"]), "both dialects must know the same versions"

_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at {} NOT NULL)"
VERSION_TABLE = {"sqlite": _VERSION_TABLE.format("TEXT"), "postgres": _VERSION_TABLE.format("TIMESTAMPTZ")}


def pending_versions(dialect: Dialect, current: int, where: str) -> list[tuple[int, str]]:
    """The scripts to run to bring ``current`` up to date, in order; refuses a newer database."""
    if current > LATEST_VERSION:
        raise SchemaTooNewError(current, LATEST_VERSION, where)
    scripts = MIGRATIONS[dialect]
    return [(version, scripts[version]) for version in sorted(scripts) if version > current]


def split_statements(script: str) -> list[str]:
    """The scripts hold no string literal with ';', so a plain split is exact (asserted by the tests)."""
    return [part.strip() for part in script.split(";") if part.strip()]
