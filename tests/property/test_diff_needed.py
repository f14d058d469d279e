"""Law of skipping the worktree diff: only a native turn that called nothing but read-only tools skips it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.changes import NATIVE_READ_ONLY_TOOLS, worktree_may_have_changed
from core.model import BackendKind

TOOLS = ["read", "list", "search", "write", "edit", "bash", "apply_patch"]


@given(st.sampled_from([*BackendKind, None]), st.sets(st.sampled_from(TOOLS)))
def test_the_diff_is_skipped_only_for_a_native_turn_that_only_read(kind: BackendKind | None, tools: set[str]) -> None:
    skipped = not worktree_may_have_changed(kind, tools)
    assert skipped == (kind is BackendKind.NATIVE and tools <= NATIVE_READ_ONLY_TOOLS)


def test_examples() -> None:
    assert not worktree_may_have_changed(BackendKind.NATIVE, [])
    assert not worktree_may_have_changed(BackendKind.NATIVE, ["read", "search"])
    assert worktree_may_have_changed(BackendKind.NATIVE, ["read", "write"])
    assert worktree_may_have_changed(BackendKind.WARM_ACP, [])  # it may have run a shell command
