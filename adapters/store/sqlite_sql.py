"""The SQLite store's multi-line statements (named ``:param`` placeholders)."""

from __future__ import annotations

# task t is the head of its chat's queue, nothing of the chat runs, and no other node holds a live lease on it
_HEAD_OF_FREE_CHAT = """(
    NOT EXISTS (
        SELECT 1 FROM tasks AS o WHERE o.chat_id = t.chat_id
          AND (o.status = 'running' OR (o.status = 'queued' AND o.queue_seq < t.queue_seq)))
    AND NOT EXISTS (
        SELECT 1 FROM chat_leases AS l WHERE l.chat_id = t.chat_id AND l.node_id <> :node_id AND l.expires_at > :at))"""


class SQL:
    insert_chat = """
        INSERT INTO chats (id, repo_path, ref, title, status, created_at, closed_at, on_interrupt)
        VALUES (:id, :repo_path, :ref, :title, :status, :created_at, :closed_at, :on_interrupt)"""
    set_on_interrupt = "UPDATE chats SET on_interrupt = ? WHERE id = ? RETURNING *"
    close_chat = "UPDATE chats SET status = ?, closed_at = ? WHERE id = ? RETURNING *"
    reopen_chat = "UPDATE chats SET status = ?, closed_at = NULL WHERE id = ? RETURNING *"
    upsert_worktree = """
        INSERT INTO worktrees (path, chat_id, repo_path, branch, base_commit, status, created_at, archived_at,
                               snapshot_ref)
        VALUES (:path, :chat_id, :repo_path, :branch, :base_commit, :status, :created_at, :archived_at,
                :snapshot_ref)
        ON CONFLICT (path) DO UPDATE SET chat_id = excluded.chat_id, repo_path = excluded.repo_path,
            branch = excluded.branch, base_commit = excluded.base_commit, status = excluded.status,
            created_at = excluded.created_at, archived_at = excluded.archived_at,
            snapshot_ref = excluded.snapshot_ref"""
    upsert_session = """
        INSERT INTO agent_sessions (chat_id, agent, backend, backend_session_id, status, turns, input_tokens,
                                    output_tokens, reasoning_tokens, cost_usd, usage_known, cost_known,
                                    last_used_at, node_id)
        VALUES (:chat_id, :agent, :backend, :backend_session_id, :status, :turns, :input_tokens, :output_tokens,
                :reasoning_tokens, :cost_usd, :usage_known, :cost_known, :last_used_at, :node_id)
        ON CONFLICT (chat_id, agent) DO UPDATE SET backend = excluded.backend,
            backend_session_id = excluded.backend_session_id, status = excluded.status, turns = excluded.turns,
            input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
            reasoning_tokens = excluded.reasoning_tokens, cost_usd = excluded.cost_usd,
            usage_known = excluded.usage_known, cost_known = excluded.cost_known,
            last_used_at = excluded.last_used_at, node_id = excluded.node_id"""
    set_session_status = "UPDATE agent_sessions SET status = ?, last_used_at = ? WHERE chat_id = ? AND agent = ?"
    insert_task = """
        INSERT INTO tasks (id, queue_seq, chat_id, agent, origin, status, prompt, model, error, input_tokens,
                           output_tokens, reasoning_tokens, cost_usd, usage_known, cost_known, created_at,
                           started_at, finished_at, node_id, continues)
        VALUES (:id, (SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM tasks), :chat_id, :agent, :origin, :status,
                :prompt, :model, :error, :input_tokens, :output_tokens, :reasoning_tokens, :cost_usd, :usage_known,
                :cost_known, :created_at, :started_at, :finished_at, :node_id, :continues)"""
    list_tasks = """
        SELECT * FROM (SELECT * FROM tasks WHERE chat_id = ? ORDER BY queue_seq DESC LIMIT ?) ORDER BY queue_seq"""
    # the head of each chat's queue, if nothing of that chat runs; chat-less tasks are always runnable
    next_runnable = f"""
        SELECT t.id FROM tasks AS t
        WHERE t.status = 'queued'
          AND (t.chat_id IS NULL OR (t.chat_id NOT IN (SELECT value FROM json_each(:skip)) AND {_HEAD_OF_FREE_CHAT}))
        ORDER BY t.queue_seq LIMIT 1"""  # noqa: S608 (constant fragments only)
    # the same rule for one task: is it runnable now
    runnable = f"""
        SELECT t.id FROM tasks AS t
        WHERE t.id = :id AND t.status = 'queued'
          AND (t.chat_id IS NULL OR {_HEAD_OF_FREE_CHAT})"""  # noqa: S608 (constant fragments only)
    start_task = """
        UPDATE tasks SET status = 'running', started_at = :at, node_id = :node_id
        WHERE id = :id AND status = 'queued' RETURNING *"""
    finish_task = """
        UPDATE tasks SET status = :status, error = :error, finished_at = :at, input_tokens = :input_tokens,
            output_tokens = :output_tokens, reasoning_tokens = :reasoning_tokens, cost_usd = :cost_usd,
            usage_known = :usage_known, cost_known = :cost_known, reply = :reply
        WHERE id = :id RETURNING *"""
    # a crashed or closed session keeps that status: only the turn's own busy/idle state becomes idle
    add_session_usage = """
        UPDATE agent_sessions SET turns = turns + 1, input_tokens = input_tokens + :input_tokens,
            output_tokens = output_tokens + :output_tokens,
            reasoning_tokens = reasoning_tokens + :reasoning_tokens, cost_usd = cost_usd + :cost_usd,
            usage_known = (usage_known OR :usage_known), cost_known = (cost_known OR :cost_known),
            status = CASE WHEN status IN ('busy', 'idle') THEN 'idle' ELSE status END, last_used_at = :at
        WHERE chat_id = :chat_id AND agent = :agent"""
    cancel_queued = """
        UPDATE tasks SET status = 'cancelled', finished_at = :at WHERE id = :id AND status = 'queued' RETURNING *"""
    fail_running = """
        UPDATE tasks SET status = 'failed', error = :error, finished_at = :at
        WHERE status = 'running' AND (:node_id IS NULL OR node_id = :node_id) RETURNING *"""
    insert_event = "INSERT INTO turn_events (task_id, chat_id, event, journaled_at) VALUES (?, ?, ?, ?) RETURNING seq"
    upsert_pending = """
        INSERT INTO pending_changes (chat_id, path, diff, agent, contributors, status, task_id, updated_at)
        VALUES (:chat_id, :path, :diff, :agent, :contributors, :status, :task_id, :updated_at)
        ON CONFLICT (chat_id, path) DO UPDATE SET diff = excluded.diff, agent = excluded.agent,
            contributors = excluded.contributors, status = excluded.status, task_id = excluded.task_id,
            updated_at = excluded.updated_at"""
    set_pending_status = """
        UPDATE pending_changes SET status = :status, updated_at = :at
        WHERE chat_id = :chat_id AND status = 'pending'
          AND (:all OR path IN (SELECT value FROM json_each(:paths)))"""
    upsert_process = """
        INSERT INTO processes (node_id, key, pid, port, started_at, command)
        VALUES (:node_id, :key, :pid, :port, :started_at, :command)
        ON CONFLICT (node_id, key, pid) DO UPDATE SET port = excluded.port, started_at = excluded.started_at,
            command = excluded.command"""
