"""Version 1 of the schema, the tables every later migration builds on, one script per dialect.

Released: never edit it; change the schema with a new version in ``adapters.store.migrations``.
"""

from __future__ import annotations

V1_SQLITE = """
CREATE TABLE chats (
    id TEXT PRIMARY KEY,
    repo_path TEXT NOT NULL,
    ref TEXT,
    title TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE TABLE worktrees (
    path TEXT PRIMARY KEY,
    chat_id TEXT UNIQUE REFERENCES chats(id) ON DELETE SET NULL,
    repo_path TEXT NOT NULL,
    branch TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived_at TEXT,
    snapshot_ref TEXT
);
CREATE TABLE agent_sessions (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    agent TEXT NOT NULL,
    backend TEXT NOT NULL,
    backend_session_id TEXT,
    status TEXT NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    last_used_at TEXT NOT NULL,
    node_id TEXT,
    PRIMARY KEY (chat_id, agent)
);
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    queue_seq INTEGER NOT NULL UNIQUE,
    chat_id TEXT REFERENCES chats(id) ON DELETE SET NULL,
    agent TEXT NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL,
    model TEXT,
    error TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    node_id TEXT
);
CREATE INDEX tasks_by_status ON tasks (status, queue_seq);
CREATE INDEX tasks_by_chat ON tasks (chat_id, queue_seq);
CREATE UNIQUE INDEX tasks_one_running_per_chat ON tasks (chat_id) WHERE status = 'running';
CREATE TABLE turn_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    chat_id TEXT REFERENCES chats(id) ON DELETE SET NULL,
    event TEXT NOT NULL
);
CREATE INDEX turn_events_by_task ON turn_events (task_id, seq);
CREATE INDEX turn_events_by_chat ON turn_events (chat_id, seq);
CREATE TABLE pending_changes (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    diff TEXT NOT NULL,
    agent TEXT,
    contributors TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, path)
);
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '+00:00'),
    PRIMARY KEY (scope, key)
);
CREATE TABLE processes (
    node_id TEXT NOT NULL,
    key TEXT NOT NULL,
    pid INTEGER NOT NULL,
    port INTEGER,
    started_at TEXT NOT NULL,
    command TEXT NOT NULL,
    PRIMARY KEY (node_id, key, pid)
);
"""

V1_POSTGRES = """
CREATE TABLE chats (
    id TEXT PRIMARY KEY,
    repo_path TEXT NOT NULL,
    ref TEXT,
    title TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ
);
CREATE TABLE worktrees (
    path TEXT PRIMARY KEY,
    chat_id TEXT UNIQUE REFERENCES chats(id) ON DELETE SET NULL,
    repo_path TEXT NOT NULL,
    branch TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ,
    snapshot_ref TEXT
);
CREATE TABLE agent_sessions (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    agent TEXT NOT NULL,
    backend TEXT NOT NULL,
    backend_session_id TEXT,
    status TEXT NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_used_at TIMESTAMPTZ NOT NULL,
    node_id TEXT,
    PRIMARY KEY (chat_id, agent)
);
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    queue_seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    chat_id TEXT REFERENCES chats(id) ON DELETE SET NULL,
    agent TEXT NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL,
    model TEXT,
    error TEXT,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    node_id TEXT
);
CREATE INDEX tasks_by_status ON tasks (status, queue_seq);
CREATE INDEX tasks_by_chat ON tasks (chat_id, queue_seq);
CREATE UNIQUE INDEX tasks_one_running_per_chat ON tasks (chat_id) WHERE status = 'running';
CREATE TABLE turn_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    chat_id TEXT REFERENCES chats(id) ON DELETE SET NULL,
    event JSONB NOT NULL
);
CREATE INDEX turn_events_by_task ON turn_events (task_id, seq);
CREATE INDEX turn_events_by_chat ON turn_events (chat_id, seq);
CREATE TABLE pending_changes (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    diff TEXT NOT NULL,
    agent TEXT,
    contributors JSONB NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chat_id, path)
);
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    response JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE TABLE processes (
    node_id TEXT NOT NULL,
    key TEXT NOT NULL,
    pid INTEGER NOT NULL,
    port INTEGER,
    started_at TIMESTAMPTZ NOT NULL,
    command TEXT NOT NULL,
    PRIMARY KEY (node_id, key, pid)
);
"""
