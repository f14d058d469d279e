"""``hearth worktrees list`` and ``hearth worktrees restore CHAT``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from returns.pipeline import is_successful

from app.bootstrap.adapters import open_store, open_worktrees
from app.clock import SystemClock
from app.settings import Settings
from core.model import ChatStatus, WorktreeStatus


def register(subparsers: Any) -> None:
    """Adds ``worktrees`` to the ``hearth`` parser's subcommands."""
    worktrees = subparsers.add_parser("worktrees", help="list chat worktrees, or restore a soft-deleted one")
    actions = worktrees.add_subparsers(dest="worktrees_command", required=True)
    listing = actions.add_parser("list", help="every chat worktree hearth knows: status, path, branch, snapshot")
    listing.add_argument("--status", choices=[status.value for status in WorktreeStatus])
    listing.set_defaults(func=_list)
    restore = actions.add_parser("restore", help="bring a chat's newest snapshot back as its worktree")
    restore.add_argument("chat", help="the chat id")
    restore.set_defaults(func=_restore)


def _list(args: argparse.Namespace) -> int:
    return asyncio.run(_list_rows(Settings(), WorktreeStatus(args.status) if args.status else None))


async def _list_rows(settings: Settings, status: WorktreeStatus | None) -> int:
    store = await open_store(settings)
    try:
        rows = await store.list_worktrees(status)
    finally:
        await store.close()
    if not rows:
        print("hearth: no worktrees" + (f" with status {status.value}" if status else ""))
        return 0
    for row in rows:
        chat = row.chat_id or "(chat deleted)"
        extra = f"  snapshot {row.snapshot_ref}" if row.snapshot_ref and row.status is not WorktreeStatus.ACTIVE else ""
        print(f"{chat}  {row.status.value}  {row.path}  {row.branch}  base {row.base_commit[:12]}{extra}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    return asyncio.run(_restore_chat(Settings(), args.chat))


async def _restore_chat(settings: Settings, chat_id: str) -> int:
    store = await open_store(settings)
    try:
        row = await store.get_worktree(chat_id)
        if row is None:
            print(f"hearth: chat {chat_id} has no worktree row; see `hearth worktrees list`", file=sys.stderr)
            return 1
        if row.status is WorktreeStatus.ACTIVE:
            print(f"hearth: the worktree of chat {chat_id} is already active at {row.path}")
            return 0
        restored = await open_worktrees(settings).restore(row, SystemClock().now())
        if not is_successful(restored):
            print(f"hearth: restore of chat {chat_id} failed: {restored.failure().detail}", file=sys.stderr)
            return 1
        worktree = restored.unwrap()
        await store.upsert_worktree(worktree)
        # closing the chat archived this worktree; bringing the work back means taking turns on it again
        chat = await store.get_chat(chat_id)
        reopened = (
            chat is not None and chat.status is ChatStatus.CLOSED and await store.reopen_chat(chat_id) is not None
        )
    finally:
        await store.close()
    print(f"hearth: restored chat {chat_id} from {worktree.snapshot_ref} at {worktree.path} on {worktree.branch}")
    if reopened:
        print(f"hearth: chat {chat_id} is open again and takes turns")
    return 0
