"""The one composition root: Settings -> store, bus, worktrees, one backend per agent, pool, turns, jobs, use cases.

Adapters are imported here (``adapters.py``), statically, so mypy checks each against its port and import-linter
sees every arrow; nothing else in ``app`` but the CLI may import them. ``node.py`` wires the object graph,
``usecases.py`` the use cases the edges receive, ``service.py`` runs it all for as long as a server lives.
"""
