"""Creator keys in memory: the method never awaits, so its read and write are one step, as the SQL transaction."""

from __future__ import annotations

from adapters.store.memory_tables import MemoryIntegrityError, MemoryTables, in_utc
from core.model import Chat, ChatStatus


class MemoryCreators:
    """``core.ports.store.ChatCreators`` for ``MemoryStore``."""

    _tables: MemoryTables

    async def resolve_creator_chat(self, creator: str, candidate: Chat) -> tuple[Chat, bool]:
        mapped = self._tables.creators.get(creator)
        chat = None if mapped is None else self._tables.chats.get(mapped)
        if chat is not None and chat.status is ChatStatus.OPEN:
            return chat, False
        if candidate.id in self._tables.chats:
            raise MemoryIntegrityError(f"chat {candidate.id!r} exists already")
        self._tables.chats[candidate.id] = in_utc(candidate)
        self._tables.creators[creator] = candidate.id
        return in_utc(candidate), True
