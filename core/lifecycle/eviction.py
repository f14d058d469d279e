"""Which live (chat, agent) handles to drop: idle-TTL expired ones first, then LRU beyond the cap.

Eviction only drops the in-memory handle; the agent session row stays (status ``evicted``) and the next
turn reattaches. A busy handle is never evicted, so the cap is a target, not a hard limit: with every
handle busy, more than ``max_live`` stay live.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from core.model import Frozen

HandleKey = tuple[str, str]  # (chat_id, agent)


class LiveHandle(Frozen):
    chat_id: str
    agent: str
    last_used: datetime  # end of its last turn (or its creation); compared with ``now`` of the same clock
    busy: bool = False

    @property
    def key(self) -> HandleKey:
        return (self.chat_id, self.agent)


class EvictionPolicy(Frozen):
    idle_ttl_s: float = Field(default=30 * 60, ge=0)
    max_live: int = Field(default=10, ge=0)


class EvictionReason(StrEnum):
    IDLE_TTL = "idle_ttl"
    LRU_CAP = "lru_cap"


class Eviction(Frozen):
    chat_id: str
    agent: str
    reason: EvictionReason

    @property
    def key(self) -> HandleKey:
        return (self.chat_id, self.agent)


def _least_recent_first(handles: Sequence[LiveHandle]) -> list[LiveHandle]:
    # The key breaks ties so the decision never depends on the caller's ordering.
    return sorted(handles, key=lambda handle: (handle.last_used, handle.key))


def choose_evictions(
    handles: Sequence[LiveHandle], now: datetime, policy: EvictionPolicy = EvictionPolicy()
) -> list[Eviction]:
    """The handles to evict, least recently used first: TTL-expired idle ones, then idle ones over the cap.

    Handle keys are expected to be unique (one live handle per (chat, agent)).
    """
    ttl = timedelta(seconds=policy.idle_ttl_s)
    idle = _least_recent_first([handle for handle in handles if not handle.busy])
    expired = [handle for handle in idle if now - handle.last_used >= ttl]
    evictions = [Eviction(chat_id=h.chat_id, agent=h.agent, reason=EvictionReason.IDLE_TTL) for h in expired]
    expired_keys = {handle.key for handle in expired}
    still_idle = [handle for handle in idle if handle.key not in expired_keys]
    over_cap = len(handles) - len(expired) - policy.max_live
    over_cap_idle = still_idle[: max(0, over_cap)]
    evictions += [Eviction(chat_id=h.chat_id, agent=h.agent, reason=EvictionReason.LRU_CAP) for h in over_cap_idle]
    return evictions
