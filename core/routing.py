"""Which backend serves a task, the composer chip per agent, and the handoff preamble between agents."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from enum import StrEnum

from core.handoff import HistoryBudget, fit_budget
from core.model import AgentSession, AgentSessionStatus, Task, TaskOrigin, TaskStatus, TranscriptEntry

PREAMBLE_MAX_TURNS = 20  # older turns are counted, not shown
PREAMBLE_MAX_CHARS = 16_000  # the turns shown fit in this (HEARTH_HANDOFF_MAX_CHARS); older ones are counted
_NUMBER_SLACK = 12  # a turn's number and line break, which _describe's size at number 0 leaves out
PREAMBLE_PROMPT_CHARS = 400
PREAMBLE_REPLY_CHARS = 800
PREAMBLE_FILES = 20
PREAMBLE_SEPARATOR = "\n\n---\n\n"


def should_use_warm_backend(task: Task) -> bool:
    """A chat turn runs on the warm (chat, agent) session; chat-less, arena, MCP and new-task work run one-shot."""
    return task.chat_id is not None and task.origin is TaskOrigin.CHAT


class Chip(StrEnum):
    RESUMED = "resumed"  # its own session exists and will be resumed
    RESTARTED = "restarted"  # its own session's process died (crashed): the next turn starts it again and resumes
    HISTORY = "history"  # no resumable session, but other agents took turns: it sees them as history
    NEW = "new"  # nothing yet


CHIP_MEANING: Mapping[Chip, str] = {
    Chip.RESUMED: "its own session exists and the next turn resumes it",
    Chip.RESTARTED: "its own session's process died; the next turn starts it again and resumes the session",
    Chip.HISTORY: "no session of its own, but other agents took turns: it sees them as history",
    Chip.NEW: "nothing yet",
}


def is_resumable(session: AgentSession) -> bool:
    """Idle, busy, evicted or crashed sessions are picked up again by the next turn; closed ones never."""
    return session.status is not AgentSessionStatus.CLOSED


def composer_chip(agent: str, sessions: Sequence[AgentSession], finished_by: Collection[str]) -> Chip:
    """``sessions`` are the chat's agent sessions, ``finished_by`` the agents that finished a turn in it."""
    own = [session for session in sessions if session.agent == agent and is_resumable(session)]
    if any(session.status is AgentSessionStatus.CRASHED for session in own):
        return Chip.RESTARTED  # resumed too, but the user should see that the process died
    if own:
        return Chip.RESUMED
    if any(other != agent for other in finished_by):
        return Chip.HISTORY
    return Chip.NEW


def composer_chips(
    agents: Sequence[str], sessions: Sequence[AgentSession], finished_by: Collection[str]
) -> Mapping[str, Chip]:
    return {agent: composer_chip(agent, sessions, finished_by) for agent in agents}


def last_turn_of(agent: str, transcript: Sequence[TranscriptEntry]) -> str | None:
    """The task id of the agent's latest turn in the chat, the usual ``since`` of a handoff preamble."""
    return next((entry.task_id for entry in reversed(transcript) if entry.agent == agent), None)


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _printable(path: str) -> str:
    """A path on one line: control and line-separator characters escaped (``\\n``, ``\\u2028``)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in path)


def _files(files: Sequence[str]) -> str:
    unique = [_printable(path) for path in dict.fromkeys(files)]
    shown = ", ".join(unique[:PREAMBLE_FILES])
    rest = len(unique) - PREAMBLE_FILES
    return f"{shown} and {rest} more" if rest > 0 else shown


def _describe(number: int, entry: TranscriptEntry, agent: str) -> str:
    who = "you (in an earlier session)" if entry.agent == agent else entry.agent
    outcome = "" if entry.status is TaskStatus.SUCCEEDED else f" ({entry.status.value})"
    lines = [f"{number}. {who}{outcome}", f"   Prompt: {_clip(entry.prompt, PREAMBLE_PROMPT_CHARS)}"]
    if entry.reply.strip():
        lines.append(f"   Reply: {_clip(entry.reply, PREAMBLE_REPLY_CHARS)}")
    if entry.files:
        lines.append(f"   Files touched: {_files(entry.files)}")
    return "\n".join(lines)


def turns_since(
    agent: str, transcript: Sequence[TranscriptEntry], since: str | None, *, include_own: bool = False
) -> list[TranscriptEntry]:
    """Turns after task ``since`` (all of them when ``since`` is None or not in the transcript).

    Only other agents' turns, unless ``include_own``: an agent whose session was lost has forgotten its
    own turns too.
    """
    ids = [entry.task_id for entry in transcript]
    start = ids.index(since) + 1 if since in ids else 0
    return [entry for entry in transcript[start:] if include_own or entry.agent != agent]


def handoff_preamble(
    agent: str,
    transcript: Sequence[TranscriptEntry],
    since: str | None,
    *,
    include_own: bool = False,
    earlier: int = 0,
    max_chars: int = PREAMBLE_MAX_CHARS,
) -> str | None:
    """What happened in the chat since ``since`` (the last turn this agent's session saw), or None if nothing.

    ``transcript`` is the chat's finished turns, oldest first (a bounded window of them: ``earlier`` counts the
    ones before it). The newest turns that fit ``max_chars`` and ``PREAMBLE_MAX_TURNS`` are shown; the rest are
    counted, and the preamble says so.
    """
    entries = turns_since(agent, transcript, since, include_own=include_own)
    if not entries and earlier <= 0:
        return None
    budget = HistoryBudget(max_turns=PREAMBLE_MAX_TURNS, max_chars=max_chars)
    shown, omitted = fit_budget(entries, earlier, budget, size=lambda e: len(_describe(0, e, agent)) + _NUMBER_SLACK)
    header = (
        "[hearth] Since your last turn in this chat, other agents worked in the same working directory "
        "(oldest first). Their file edits are already in your working directory."
        if not include_own
        else "[hearth] Your earlier session in this chat could not be resumed. What happened so far "
        "(oldest first); the file edits are already in your working directory."
    )
    parts = [header]
    if omitted:
        turns = "turn" if omitted == 1 else "turns"
        parts.append(f"({omitted} earlier {turns} not shown: this summary keeps to its budget of the newest turns)")
    parts += [_describe(omitted + n, entry, agent) for n, entry in enumerate(shown, start=1)]
    return "\n".join(parts)


def compose_prompt(preamble: str | None, prompt: str) -> str:
    """The prompt the agent receives: the preamble (if any), a separator, then the user's prompt untouched."""
    return prompt if preamble is None else f"{preamble}{PREAMBLE_SEPARATOR}[user]\n{prompt}"
