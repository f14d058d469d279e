"""The migration scripts themselves: both dialects know the same versions, and every statement splits cleanly."""

from __future__ import annotations

import pytest

from adapters.store.migrations import MIGRATIONS, Dialect
from adapters.store.schema import LATEST_VERSION, SchemaTooNewError, pending_versions, split_statements

TABLES = {
    "chats",
    "worktrees",
    "agent_sessions",
    "tasks",
    "turn_events",
    "pending_changes",
    "idempotency",
    "processes",
    "chat_leases",
    "turn_requests",
    "chat_creators",
    "arenas",
    "arena_contestants",
}


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_every_statement_is_a_whole_create_alter_or_backfill(dialect: Dialect) -> None:
    statements = [s for script in MIGRATIONS[dialect].values() for s in split_statements(script)]
    kinds = ("CREATE TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX", "ALTER TABLE", "UPDATE")
    assert all(s.startswith(kinds) for s in statements), statements
    created = {s.split()[2] for s in statements if s.startswith("CREATE TABLE")}
    assert created == TABLES
    changed = {s.split()[2] for s in statements if s.startswith("ALTER TABLE")}
    changed |= {s.split()[1] for s in statements if s.startswith("UPDATE")}
    assert changed <= TABLES


def test_versions_run_in_order_from_the_current_one() -> None:
    assert [v for v, _ in pending_versions("sqlite", 0, "x")] == sorted(MIGRATIONS["sqlite"])
    assert pending_versions("postgres", LATEST_VERSION, "x") == []


def test_a_newer_database_is_refused_naming_both_versions_and_the_fix() -> None:
    with pytest.raises(SchemaTooNewError) as refused:
        pending_versions("sqlite", LATEST_VERSION + 3, "/data/hearth.db")
    assert str(refused.value) == (
        f"database schema is version {LATEST_VERSION + 3}, this hearth knows up to {LATEST_VERSION}: "
        "upgrade hearth (database: /data/hearth.db)"
    )
