"""The staging boundary: pending changes live in the chat's worktree and reach the user's checkout only when
applied. What the console shows about it: the base the changes are diffed against, the checkout's HEAD, and
which pending files the checkout itself has changed since that base (applying them would conflict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.model import Frozen


class StagingBoundary(Frozen):
    checkout: str  # the user's checkout (the repository the chat was made from)
    worktree: str  # the chat's worktree, where the pending changes live
    base_commit: str  # what the pending changes are diffed against (moves past every apply)
    checkout_head: str | None  # None: the checkout's HEAD is unborn or detached onto nothing readable
    diverged: tuple[str, ...] = ()  # pending files the checkout changed since the base


def diverged_paths(
    pending: Sequence[str], at_base: Mapping[str, str | None], in_checkout: Mapping[str, str | None]
) -> tuple[str, ...]:
    """The pending paths whose content in the checkout is not the base's (a blob id per path, None: absent).

    A path missing from either mapping counts as absent there; each path once, sorted.
    """
    return tuple(sorted({path for path in pending if at_base.get(path) != in_checkout.get(path)}))
