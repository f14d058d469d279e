"""Creator keys on SQLite: the read and the write are one ``BEGIN IMMEDIATE`` transaction, so two first tasks of one
creator cannot both miss the mapping and create two chats."""

from __future__ import annotations

import sqlite3

from adapters.store import rows
from adapters.store.sqlite_conn import SqliteConnection
from adapters.store.sqlite_sql import SQL
from core.model import Chat

FIND_OPEN_CHAT = """
    SELECT c.* FROM chat_creators AS k JOIN chats AS c ON c.id = k.chat_id
    WHERE k.creator = ? AND c.status = 'open'"""
MAP_CREATOR = """
    INSERT INTO chat_creators (creator, chat_id, created_at) VALUES (?, ?, ?)
    ON CONFLICT (creator) DO UPDATE SET chat_id = excluded.chat_id, created_at = excluded.created_at"""


class SqliteCreators:
    """``core.ports.store.ChatCreators`` for ``SqliteStore``."""

    _db: SqliteConnection

    async def resolve_creator_chat(self, creator: str, candidate: Chat) -> tuple[Chat, bool]:
        params = {
            **candidate.model_dump(),
            "created_at": rows.time_text(candidate.created_at),
            "closed_at": rows.time_text(candidate.closed_at),
        }

        def work(conn: sqlite3.Connection) -> tuple[Chat, bool]:
            found = conn.execute(FIND_OPEN_CHAT, (creator,)).fetchone()
            if found is not None:
                return rows.chat_from(found), False
            conn.execute(SQL.insert_chat, params)
            conn.execute(MAP_CREATOR, (creator, candidate.id, params["created_at"]))
            return candidate, True

        return await self._db.write(work)
