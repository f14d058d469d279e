"""Where a chat's worktree lives, what its branch and snapshot refs are called, and path confinement."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePath, PurePosixPath

from adapters.git.refusal import refuse, refuse_input
from core.model import Worktree
from core.reaper import SNAPSHOT_PREFIX

BRANCH_PREFIX = "hearth/chat-"

_CHAT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def check_chat_id(chat_id: str) -> str:
    """Chat ids become branch names and directory names, so only a conservative alphabet is allowed."""
    if not _CHAT_ID.fullmatch(chat_id):
        refuse_input(
            f"chat id {chat_id!r} cannot name a branch and a directory: use letters, digits, '-' and '_' only",
            field="chat_id",
        )
    return chat_id


def branch_name(chat_id: str) -> str:
    return f"{BRANCH_PREFIX}{chat_id}"


def worktree_name(chat_id: str) -> str:
    """The libgit2 worktree name, equal to the directory's basename so the git CLI finds it too."""
    return f"chat-{chat_id}"


def chat_key(worktree: Worktree) -> str:
    """The chat id of a row, recovered from its branch once the chat row is gone (chat_id NULL)."""
    if worktree.chat_id is not None:
        return worktree.chat_id
    return worktree.branch.removeprefix(BRANCH_PREFIX)


def repo_dir_name(repo_root: Path) -> str:
    """``<repo-name>-<hash>``: readable, and unique even for two repositories with the same name."""
    digest = hashlib.sha256(str(repo_root).encode()).hexdigest()[:12]
    name = _UNSAFE_NAME.sub("_", repo_root.name).strip("._") or "repo"
    return f"{name}-{digest}"


def worktree_path(worktrees_dir: Path, repo_root: Path, chat_id: str) -> Path:
    return worktrees_dir / repo_dir_name(repo_root) / worktree_name(chat_id)


def snapshot_prefix(chat_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{chat_id}/"


def is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def confined_worktree_dir(worktrees_dir: Path, worktree: Worktree) -> Path:
    """The row's directory, refused unless it is under the worktrees dir (soft delete removes it)."""
    path = Path(worktree.path)
    root = worktrees_dir.resolve()
    if not path.is_absolute() or ".." in path.parts or not is_inside(path.resolve(), root) or path.resolve() == root:
        refuse(
            f"worktree path {worktree.path} is not inside hearth's worktrees directory {worktrees_dir}; "
            "refusing to touch it: nodes sharing one database need the same HEARTH_WORKTREES_DIR, on storage "
            "they all see at the same path (otherwise fix the worktree row)",
            field="path",
        )
    return path


def relative_path(path: str) -> PurePosixPath:
    """A path inside a worktree as a caller gave it: relative, no '..', not into .git."""
    rel = PurePosixPath(path)
    if not path or rel.is_absolute() or "\\" in path or "\x00" in path:
        refuse_input(f"{path!r} is not a relative path inside the worktree", field="path")
    if ".." in rel.parts:
        refuse_input(f"{path!r} escapes the worktree ('..' is not allowed)", field="path")
    if not rel.parts or _names_git(rel):
        refuse_input(f"{path!r} is not a file of the worktree (git's own files are off limits)", field="path")
    return rel


def _names_git(rel: PurePath) -> bool:
    """Any '.git' component, as git itself refuses to track (a nested one would turn a directory into a repo)."""
    return any(part.lower() == ".git" for part in rel.parts)


def confined_file(root: Path, path: str) -> Path:
    """The real file for ``path`` under ``root``; refuses '..' and symlinks that lead outside."""
    rel = relative_path(path)
    real_root = root.resolve()
    resolved = root.joinpath(*rel.parts).resolve()  # follows every symlink on the way, the file's own too
    if not is_inside(resolved, real_root) or resolved == real_root:
        refuse_input(f"{path!r} leads outside the worktree through a symlink (to {resolved}); refused", field="path")
    if _names_git(resolved.relative_to(real_root)):
        refuse_input(f"{path!r} leads into git's own files through a symlink (to {resolved}); refused", field="path")
    return resolved
