"""The migration scripts, one per version per dialect (v1 in ``adapters.store.baseline``); ``schema`` runs them.

A migration is append-only: never edit a released version, add the next one.
"""

from __future__ import annotations

from typing import Literal

from adapters.store.baseline import V1_POSTGRES, V1_SQLITE

Dialect = Literal["sqlite", "postgres"]


# v2: a chat's live agents belong to one node at a time; the lease row says which, and until when. A cancel or a
# permission answer that reaches another node's API waits in turn_requests for the node running the turn.
_V2 = """
CREATE TABLE chat_leases (
    chat_id TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    expires_at {time} NOT NULL
);
CREATE INDEX chat_leases_by_node ON chat_leases (node_id, expires_at);
CREATE TABLE turn_requests (
    id {serial} PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    created_at {time} NOT NULL
);
CREATE INDEX turn_requests_by_task ON turn_requests (task_id, id);
"""

# v3: usage an agent did not report is unknown, not 0 (Claude Code reports none; a cost needs a stated cost or a
# configured price). The NOT NULL numeric columns stay; two flags say whether they mean anything. Rows written
# before v3 could not tell, so the upgrade reads them as earlier hearth wrote them: all zeros was "nothing
# reported", and a cost of 0 was "no price" (it wrote 0 rather than a guess). Tokens and costs are kept as they are.
_V3 = """
ALTER TABLE tasks ADD COLUMN usage_known {flag};
ALTER TABLE tasks ADD COLUMN cost_known {flag};
ALTER TABLE agent_sessions ADD COLUMN usage_known {flag};
ALTER TABLE agent_sessions ADD COLUMN cost_known {flag};
UPDATE tasks SET usage_known = (input_tokens + output_tokens + reasoning_tokens > 0 OR cost_usd > 0),
    cost_known = (cost_usd > 0);
UPDATE agent_sessions SET usage_known = (input_tokens + output_tokens + reasoning_tokens > 0 OR cost_usd > 0),
    cost_known = (cost_usd > 0);
"""

# v4: a turn's cost stays flat as its chat grows. Each event carries the server time it was journaled (delivery
# latency is measured from it; rows written before v4 have none). A finished turn keeps its visible reply, so the
# handoff to the next agent reads a bounded window of turns instead of every event of the chat (rows finished
# before v4 have none and their reply is read from their own events). The (chat, agent, queue order) index finds an
# agent's last turn in a chat, the cursor of its handoff, without a scan; the partial index of finished turns
# answers the window and the count of the turns it leaves out from the index alone.
_V4 = """
ALTER TABLE turn_events ADD COLUMN journaled_at {time};
ALTER TABLE tasks ADD COLUMN reply TEXT;
CREATE INDEX tasks_by_chat_agent ON tasks (chat_id, agent, queue_seq);
CREATE INDEX tasks_finished_by_chat ON tasks (chat_id, queue_seq) WHERE status IN ('succeeded', 'failed', 'cancelled');
"""

# v5: work from outside a chat (tasks, MCP clients) names a creator key; the key resolves to one chat, created by
# the first task that names it. The row goes with its chat; a closed chat's creator is mapped to a new chat.
_V5 = """
CREATE TABLE chat_creators (
    creator TEXT PRIMARY KEY,
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    created_at {time} NOT NULL
);
CREATE INDEX chat_creators_by_chat ON chat_creators (chat_id);
"""

# v6: the arena. An arena belongs to a chat; each contestant is a chat-less task (its run) with its own forked
# worktree. The values beyond the keys are JSON text (``core.arena``), read back whole.
_V6 = """
CREATE TABLE arenas (
    id TEXT PRIMARY KEY,
    chat_id TEXT REFERENCES chats(id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    created_at {time} NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX arenas_by_chat ON arenas (chat_id, created_at);
CREATE TABLE arena_contestants (
    task_id TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    arena_id TEXT NOT NULL REFERENCES arenas(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX arena_contestants_by_arena ON arena_contestants (arena_id, position);
"""

# v7: a chat may ask that a turn cut short by an agent crash or a restart be continued; a continuation turn names
# the turn it continues.
_V7 = """
ALTER TABLE chats ADD COLUMN on_interrupt TEXT NOT NULL DEFAULT 'stop';
ALTER TABLE tasks ADD COLUMN continues TEXT;
"""

# version -> script, per dialect. Append new versions; never edit a released one.
MIGRATIONS: dict[Dialect, dict[int, str]] = {
    "sqlite": {
        1: V1_SQLITE,
        2: _V2.format(time="TEXT", serial="INTEGER"),
        3: _V3.format(flag="INTEGER NOT NULL DEFAULT 0"),
        4: _V4.format(time="TEXT"),
        5: _V5.format(time="TEXT"),
        6: _V6.format(time="TEXT"),
        7: _V7,
    },
    "postgres": {
        1: V1_POSTGRES,
        2: _V2.format(time="TIMESTAMPTZ", serial="BIGINT GENERATED ALWAYS AS IDENTITY"),
        3: _V3.format(flag="BOOLEAN NOT NULL DEFAULT FALSE"),
        4: _V4.format(time="TIMESTAMPTZ"),
        5: _V5.format(time="TIMESTAMPTZ"),
        6: _V6.format(time="TIMESTAMPTZ"),
        7: _V7,
    },
}
