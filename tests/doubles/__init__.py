"""Fast stand-ins for the fast test layer: a scripted agent backend. (The in-memory store is an adapter in
``adapters.store.memory``: it passes the same contract suites as SQLite and PostgreSQL.)"""
