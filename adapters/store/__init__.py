"""The Store adapters: embedded SQLite (``sqlite``), PostgreSQL (``postgres``), their shared versioned schema
(``schema``) and row <-> record mapping (``rows``), and the in-memory store of the fast tests (``memory``)."""
