"""Creator keys on PostgreSQL: a transaction-scoped advisory lock on the key serializes its resolvers, and under READ
COMMITTED the read after the lock sees a chat another resolver just committed, so one creator gets one chat."""

from __future__ import annotations

from adapters.store import rows
from adapters.store.postgres_conn import GuardedPool, advisory_key
from adapters.store.postgres_sql import SQL
from core.model import Chat

FIND_OPEN_CHAT = """
    SELECT c.* FROM chat_creators AS k JOIN chats AS c ON c.id = k.chat_id
    WHERE k.creator = $1 AND c.status = 'open'"""
MAP_CREATOR = """
    INSERT INTO chat_creators (creator, chat_id, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (creator) DO UPDATE SET chat_id = excluded.chat_id, created_at = excluded.created_at"""


class PostgresCreators:
    """``core.ports.store.ChatCreators`` for ``PostgresStore``."""

    _pool: GuardedPool

    async def resolve_creator_chat(self, creator: str, candidate: Chat) -> tuple[Chat, bool]:
        c = candidate
        created_at, closed_at = rows.time_or_none(c.created_at), rows.time_or_none(c.closed_at)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"chat-creator:{creator}"))
            found = await conn.fetchrow(FIND_OPEN_CHAT, creator)
            if found is not None:
                return rows.chat_from(found), False
            chat_row = (c.id, c.repo_path, c.ref, c.title, c.status.value, created_at, closed_at, c.on_interrupt.value)
            await conn.execute(SQL.insert_chat, *chat_row)
            await conn.execute(MAP_CREATOR, creator, c.id, created_at)
        return candidate, True
