"""What several nodes coordinate through, in memory: chat leases, turn requests relayed to the node running the
turn, each node's agent processes, and single-leader sections. Several nodes of one test may share one
``MemoryStore`` and see the same rules as on the SQL stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from adapters.store.memory_tables import Lease, MemoryTables, in_utc
from adapters.store.rows import as_utc, oldest_first
from core.model import ProcessRecord, Task, TaskStatus, TurnRequest


class MemoryNodes:
    """What several nodes coordinate through, of ``core.ports.store.Store`` for ``MemoryStore``."""

    _tables: MemoryTables

    # chat leases
    async def renew_chat_leases(
        self, node_id: str, chat_ids: Sequence[str], at: datetime, until: datetime
    ) -> list[str]:
        at = as_utc(at)
        wanted = sorted(set(chat_ids))
        return [chat for chat in wanted if not self._tables.take_lease(chat, node_id, at, until, open_only=True)]

    async def release_chat_leases(self, node_id: str) -> None:
        leases = self._tables.leases
        for chat_id in [chat for chat, lease in leases.items() if lease.node_id == node_id]:
            del leases[chat_id]

    async def take_over_abandoned_chats(self, node_id: str, reason: str, at: datetime, until: datetime) -> list[Task]:
        at = as_utc(at)
        tasks, leases = self._tables.tasks, self._tables.leases
        failed: list[Task] = []
        for chat_id, lease in sorted(leases.items()):
            if lease.node_id == node_id or lease.expires_at > at:
                continue
            update = {"status": TaskStatus.FAILED, "error": reason.replace("{node}", lease.node_id), "finished_at": at}
            found = [
                task.model_copy(update=update)
                for task in tasks.values()
                if task.chat_id == chat_id and task.node_id == lease.node_id and task.status == TaskStatus.RUNNING
            ]
            if found:
                tasks.update((task.id, task) for task in found)
                leases[chat_id] = Lease(node_id, as_utc(until))
                failed += found
        return oldest_first(failed)

    # relayed turn requests
    async def relay_turn_request(self, request: TurnRequest, at: datetime) -> str | None:
        task = self._tables.tasks.get(request.task_id)
        if task is None or task.status != TaskStatus.RUNNING:
            return None
        self._tables.turn_requests.append(request)
        return task.node_id

    async def take_turn_requests(self, node_id: str) -> list[TurnRequest]:
        taken: list[TurnRequest] = []
        kept: list[TurnRequest] = []
        for request in self._tables.turn_requests:
            task = self._tables.tasks[request.task_id]
            if task.status != TaskStatus.RUNNING:
                continue  # the turn is over: its requests are dropped
            (taken if task.node_id == node_id else kept).append(request)
        self._tables.turn_requests = kept
        return taken

    # processes
    async def record_process(self, record: ProcessRecord) -> None:
        self._tables.processes[(record.node_id, record.key, record.pid)] = in_utc(record)

    async def list_processes(self, node_id: str) -> list[ProcessRecord]:
        found = [record for record in self._tables.processes.values() if record.node_id == node_id]
        return sorted(found, key=lambda record: (record.started_at, record.key))

    async def forget_process(self, key: str, pid: int) -> None:
        processes = self._tables.processes
        for entry in [entry for entry in processes if entry[1:] == (key, pid)]:
            del processes[entry]

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """One process holds the whole store: the caller always leads."""
        yield True
