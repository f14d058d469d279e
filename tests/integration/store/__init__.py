"""The Store contract, one suite per role, each run against every store (SQLite, PostgreSQL, in memory)."""
