"""The process registry (``ProcessRegistry``): the agent processes each node spawned."""

from __future__ import annotations

from core.model import ProcessRecord
from core.ports.store import Store
from tests.integration.store.records import T0, at


async def test_process_registry_per_node(store: Store) -> None:
    server = ProcessRecord(key="opencode-server", pid=100, port=4096, started_at=T0, node_id="n1", command="opencode")
    acp = ProcessRecord(key="acp:qwen:1", pid=200, started_at=at(1), node_id="n1", command="qwen --acp")
    elsewhere = server.model_copy(update={"node_id": "n2", "pid": 300})
    for record in (server, acp, elsewhere):
        await store.record_process(record)
    moved = server.model_copy(update={"port": 5000})
    await store.record_process(moved)  # the same process again: updated, not duplicated
    assert await store.list_processes("n1") == [moved, acp]
    await store.forget_process("opencode-server", 100)
    assert await store.list_processes("n1") == [acp]
    assert await store.list_processes("n2") == [elsewhere]
