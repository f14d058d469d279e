"""Pending changes: latest wins per (chat, path), attribution stamps, contributors, the worktree-risk verdict.

A worktree diff is always taken against ``base_commit``, so each diff is the whole current state of the
chat's edits: a file in the diff is pending with exactly that diff, a pending file missing from it was
reverted and is removed. Only a file whose diff changed in this turn is re-stamped; the others keep the
stamp of the turn that last changed them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from core.model import BackendKind, FileDiff, Frozen, PendingChange, PendingChangeStatus, Preflight

NATIVE_STAMP = "native"
LISTED_PATHS = 10  # a risk reason names at most this many files


def attribution_stamp(agent: str | None, backend: BackendKind | None) -> str | None:
    """Who a change is credited to: the native agent as ``native``, an external agent by name, a manual edit as None.

    ``agent`` is the task's agent, None for a manual edit through the API.
    """
    if agent is None:
        return None
    return NATIVE_STAMP if backend is BackendKind.NATIVE else agent


def add_contributor(contributors: Sequence[str], stamp: str | None) -> tuple[str, ...]:
    """Ordered by first touch, each agent once; a manual edit (None) adds nobody."""
    unique = tuple(dict.fromkeys(contributors))
    return unique if stamp is None or stamp in unique else (*unique, stamp)


class PendingUpdate(Frozen):
    upserts: tuple[PendingChange, ...] = ()
    removed_paths: tuple[str, ...] = ()


def reconcile_pending(
    chat_id: str,
    current: Sequence[PendingChange],
    diff: Sequence[FileDiff],
    stamp: str | None,
    task_id: str | None,
    now: datetime,
) -> PendingUpdate:
    """What to write after a turn (or a manual edit) given the chat's rows and the worktree's new diff.

    Rows that are no longer ``pending`` (applied or discarded) count as absent: contributors start afresh
    after an apply. If the diff lists a path twice, the last entry wins.
    """
    pending = {row.path: row for row in current if row.status is PendingChangeStatus.PENDING}
    latest = {file.path: file for file in diff}
    upserts: list[PendingChange] = []
    for path, file in latest.items():
        before = pending.get(path)
        if before is not None and before.diff == file.diff:
            continue  # untouched by this turn: keeps its stamp and contributors
        contributors = add_contributor(before.contributors if before is not None else (), stamp)
        upserts.append(
            PendingChange(
                chat_id=chat_id,
                path=path,
                diff=file.diff,
                agent=stamp,
                contributors=contributors,
                task_id=task_id,
                updated_at=now,
            )
        )
    removed = tuple(path for path in pending if path not in latest)
    return PendingUpdate(upserts=tuple(upserts), removed_paths=removed)


class WorktreeRisk(Frozen):
    safe: bool
    reasons: tuple[str, ...] = ()


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _listing(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:LISTED_PATHS])
    rest = len(paths) - LISTED_PATHS
    return f"{shown} and {rest} more" if rest > 0 else shown


def worktree_risk(preflight: Preflight, pending_count: int = 0) -> WorktreeRisk:
    """What deleting the worktree would lose, in words. Anything that could not be inspected is a risk."""
    reasons: list[str] = []
    dirty = sorted(set(preflight.dirty_files))
    if dirty:
        reasons.append(f"{_count(len(dirty), 'dirty file', 'dirty files')}: {_listing(dirty)}")
    if preflight.unpushed_commits > 0:
        commits = _count(preflight.unpushed_commits, "unpushed commit", "unpushed commits")
        reasons.append(f"{commits} on the chat branch")
    unapplied = max(pending_count, preflight.unapplied_changes)
    if unapplied > 0:
        reasons.append(f"{_count(unapplied, 'pending change', 'pending changes')} not yet applied")
    reasons += [f"could not inspect the worktree: {error} (unknown is not clean)" for error in preflight.errors]
    return WorktreeRisk(safe=not reasons, reasons=tuple(reasons))


NATIVE_READ_ONLY_TOOLS = frozenset({"read", "list", "search"})


def worktree_may_have_changed(kind: BackendKind | None, tools_used: Collection[str]) -> bool:
    """Whether a turn's worktree must be diffed afterwards. hearth knows only the native agent's tools: a native
    turn that called none but the read-only ones changed nothing. Any other agent may have run anything (a shell
    command, its own edit tool), so its worktree is always diffed, a failed or cancelled turn's too."""
    if kind is not BackendKind.NATIVE:
        return True
    return not set(tools_used) <= NATIVE_READ_ONLY_TOOLS
