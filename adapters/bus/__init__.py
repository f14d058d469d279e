"""Event buses: in-process fan-out, and LISTEN/NOTIFY across nodes on PostgreSQL."""
