"""The PostgreSQL store's statements ($n placeholders; jsonb values go through the pool's json codec)."""

from __future__ import annotations

# task t is the head of its chat's queue, nothing of the chat runs, and no node but $3 holds a live lease on it at $2
_HEAD = """(
    NOT EXISTS (
        SELECT 1 FROM tasks AS o WHERE o.chat_id = t.chat_id
          AND (o.status = 'running' OR (o.status = 'queued' AND o.queue_seq < t.queue_seq)))
    AND NOT EXISTS (
        SELECT 1 FROM chat_leases AS l WHERE l.chat_id = t.chat_id AND l.node_id <> $3 AND l.expires_at > $2))"""


class SQL:
    insert_chat = """
        INSERT INTO chats (id, repo_path, ref, title, status, created_at, closed_at, on_interrupt)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""
    set_on_interrupt = "UPDATE chats SET on_interrupt = $1 WHERE id = $2 RETURNING *"
    close_chat = "UPDATE chats SET status = $1, closed_at = $2 WHERE id = $3 RETURNING *"
    reopen_chat = "UPDATE chats SET status = $1, closed_at = NULL WHERE id = $2 RETURNING *"
    drop_other_worktree = "DELETE FROM worktrees WHERE chat_id = $1 AND path <> $2"
    upsert_worktree = """
        INSERT INTO worktrees (path, chat_id, repo_path, branch, base_commit, status, created_at, archived_at,
                               snapshot_ref)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (path) DO UPDATE SET chat_id = excluded.chat_id, repo_path = excluded.repo_path,
            branch = excluded.branch, base_commit = excluded.base_commit, status = excluded.status,
            created_at = excluded.created_at, archived_at = excluded.archived_at,
            snapshot_ref = excluded.snapshot_ref"""
    upsert_session = """
        INSERT INTO agent_sessions (chat_id, agent, backend, backend_session_id, status, turns, input_tokens,
                                    output_tokens, reasoning_tokens, cost_usd, usage_known, cost_known,
                                    last_used_at, node_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        ON CONFLICT (chat_id, agent) DO UPDATE SET backend = excluded.backend,
            backend_session_id = excluded.backend_session_id, status = excluded.status, turns = excluded.turns,
            input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
            reasoning_tokens = excluded.reasoning_tokens, cost_usd = excluded.cost_usd,
            usage_known = excluded.usage_known, cost_known = excluded.cost_known,
            last_used_at = excluded.last_used_at, node_id = excluded.node_id"""
    set_session_status = "UPDATE agent_sessions SET status = $1, last_used_at = $2 WHERE chat_id = $3 AND agent = $4"
    insert_task = """
        INSERT INTO tasks (id, chat_id, agent, origin, status, prompt, model, error, input_tokens, output_tokens,
                           reasoning_tokens, cost_usd, usage_known, cost_known, created_at, started_at, finished_at,
                           node_id, continues)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"""
    list_tasks = """
        SELECT * FROM (SELECT * FROM tasks WHERE chat_id = $1 ORDER BY queue_seq DESC LIMIT $2) AS newest
        ORDER BY queue_seq"""
    # The head of each chat's queue, if nothing of that chat runs; chat-less tasks are always runnable.
    # SKIP LOCKED passes over a head another claimer holds; that claimer's chat is then busy for everyone,
    # and the partial unique index tasks_one_running_per_chat backs the rule up inside the database.
    claim_next = f"""
        WITH head AS (
            SELECT t.id FROM tasks AS t
            WHERE t.status = 'queued' AND (t.chat_id IS NULL OR (NOT (t.chat_id = ANY($1::text[])) AND {_HEAD}))
            ORDER BY t.queue_seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE tasks SET status = 'running', started_at = $2, node_id = $3
        FROM head WHERE tasks.id = head.id AND tasks.status = 'queued'
        RETURNING tasks.*"""  # noqa: S608 (constant fragments only)
    # after a claim, in its transaction: is another task runnable for the same node
    any_runnable = f"""
        SELECT EXISTS (
            SELECT 1 FROM tasks AS t
            WHERE t.status = 'queued'
              AND (t.chat_id IS NULL OR (NOT (t.chat_id = ANY($1::text[])) AND {_HEAD})))"""  # noqa: S608 (constant fragments only)
    # the claim of one task just queued, when it is the head of its chat's queue
    claim_task = f"""
        UPDATE tasks AS t SET status = 'running', started_at = $2, node_id = $3
        WHERE t.id = $1 AND t.status = 'queued' AND (t.chat_id IS NULL OR {_HEAD})
        RETURNING t.*"""  # noqa: S608 (constant fragments only)
    lock_task = "SELECT * FROM tasks WHERE id = $1 FOR UPDATE"
    finish_task = """
        UPDATE tasks SET status = $2, error = $3, finished_at = $4, input_tokens = $5, output_tokens = $6,
            reasoning_tokens = $7, cost_usd = $8, usage_known = $9, cost_known = $10, reply = $11
        WHERE id = $1 RETURNING *"""
    # a crashed or closed session keeps that status: only the turn's own busy/idle state becomes idle
    add_session_usage = """
        UPDATE agent_sessions SET turns = turns + 1, input_tokens = input_tokens + $3,
            output_tokens = output_tokens + $4, reasoning_tokens = reasoning_tokens + $5,
            cost_usd = cost_usd + $6, usage_known = usage_known OR $7, cost_known = cost_known OR $8,
            status = CASE WHEN status IN ('busy', 'idle') THEN 'idle' ELSE status END, last_used_at = $9
        WHERE chat_id = $1 AND agent = $2"""
    cancel_queued = """
        UPDATE tasks SET status = 'cancelled', finished_at = $2 WHERE id = $1 AND status = 'queued' RETURNING *"""
    fail_running = """
        UPDATE tasks SET status = 'failed', error = $1, finished_at = $2
        WHERE status = 'running' AND ($3::text IS NULL OR node_id = $3) RETURNING *"""
    insert_event = """
        INSERT INTO turn_events (task_id, chat_id, event, journaled_at) VALUES ($1, $2, $3, $4) RETURNING seq"""
    upsert_pending = """
        INSERT INTO pending_changes (chat_id, path, diff, agent, contributors, status, task_id, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (chat_id, path) DO UPDATE SET diff = excluded.diff, agent = excluded.agent,
            contributors = excluded.contributors, status = excluded.status, task_id = excluded.task_id,
            updated_at = excluded.updated_at"""
    delete_pending = "DELETE FROM pending_changes WHERE chat_id = $1 AND path = ANY($2::text[])"
    list_pending = """
        SELECT * FROM pending_changes WHERE chat_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY path"""
    set_pending_status = """
        UPDATE pending_changes SET status = $2, updated_at = $3
        WHERE chat_id = $1 AND status = 'pending' AND ($4::text[] IS NULL OR path = ANY($4::text[]))"""
    insert_idempotent = """
        INSERT INTO idempotency (scope, key, response) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"""
    upsert_process = """
        INSERT INTO processes (node_id, key, pid, port, started_at, command) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (node_id, key, pid) DO UPDATE SET port = excluded.port, started_at = excluded.started_at,
            command = excluded.command"""
