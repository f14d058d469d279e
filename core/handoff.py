"""How much of a chat's history a turn hands its agent: the newest finished turns that fit a budget.

The store reads a bounded window (at most ``max_turns`` finished turns, and a count of the ones before it); this
decides which of them the agent is shown, so the history's size never grows with the chat. What is cut is always
the oldest part, and it is counted so the agent is told that earlier turns were left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import Field

from core.model import Frozen, TranscriptEntry


class HistoryBudget(Frozen):
    """At most ``max_turns`` turns and ``max_chars`` characters of them (as ``size`` measures a turn)."""

    max_turns: int = Field(ge=0)
    max_chars: int = Field(ge=0)


def entry_size(entry: TranscriptEntry) -> int:
    """The characters a turn adds to a native agent's history: its prompt, its reply and its file names."""
    return len(entry.prompt) + len(entry.reply) + sum(len(path) for path in entry.files)


def fit_budget(
    entries: Sequence[TranscriptEntry],
    earlier: int,
    budget: HistoryBudget,
    size: Callable[[TranscriptEntry], int] = entry_size,
) -> tuple[tuple[TranscriptEntry, ...], int]:
    """The newest run of ``entries`` (oldest first) within the budget, and how many turns are left out: the
    ``earlier`` ones the store did not read plus those cut here. A turn that does not fit ends the run, so the
    agent never sees a gap in what it is shown."""
    kept: list[TranscriptEntry] = []
    total = 0
    for entry in reversed(entries[max(0, len(entries) - budget.max_turns) :] if budget.max_turns else []):
        cost = size(entry)
        if total + cost > budget.max_chars:
            break
        kept.append(entry)
        total += cost
    kept.reverse()
    return tuple(kept), earlier + len(entries) - len(kept)


def left_out_note(omitted: int) -> str | None:
    """What an agent is told about the turns its history leaves out, or None when nothing is left out."""
    if omitted <= 0:
        return None
    turns = "turn" if omitted == 1 else "turns"
    return f"[hearth] {omitted} earlier {turns} of this chat are left out to keep the history within its budget."
