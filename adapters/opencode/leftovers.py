"""Servers a previous hearth process left running: identify them strictly, then stop them.

A recorded pid is only signalled when /proc proves it is still the server we spawned: same command line
and the same isolated HOME. A reused pid belonging to anything else is left alone and the record dropped.
"""

from __future__ import annotations

from pathlib import Path

from adapters import procfs
from core.ports.store import ProcessRegistry


def is_our_server(pid: int, command: str, home: Path) -> bool:
    """True only if ``pid`` runs exactly ``command`` with HOME set to our isolated state home."""
    if not procfs.alive(pid) or procfs.cmdline(pid) != command:
        return False
    env = procfs.environ(pid)  # unreadable: we cannot prove it is ours, so it is not
    return env is not None and env.get("HOME") == str(home)


async def stop_leftovers(
    registry: ProcessRegistry, node_id: str, record_key: str, home: Path, running_pid: int | None, grace_s: float
) -> list[str]:
    """Stop the servers recorded under ``record_key`` on this node (but ``running_pid``, ours now); forget every
    such record. Returns what was done, one note per record."""
    notes: list[str] = []
    for record in await registry.list_processes(node_id):
        if record.key != record_key or record.pid == running_pid:
            continue
        if is_our_server(record.pid, record.command, home):
            await procfs.stop_unparented(record.pid, grace_s)
            notes.append(f"stopped leftover opencode server pid {record.pid} (port {record.port})")
        else:
            notes.append(f"pid {record.pid} no longer runs our opencode server; record dropped")
        await registry.forget_process(record.key, record.pid)
    return notes
