"""Temporary git repositories and a GitWorktrees over them (real pygit2, real files, no mocks).

Fixtures: ``git_repo`` (a repository with one commit under the configured root, returns its Path),
``worktrees`` (a GitWorktrees whose repository root holds ``git_repo`` and whose worktrees dir is a
sibling). Helpers: ``make_repo``, ``commit_all``, ``unwrap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pygit2
import pytest
from pygit2.enums import FileStatus
from returns.result import Failure, Result, Success

from adapters.git.worktrees import GitWorktrees
from core.errors import DomainError

T = TypeVar("T")

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
BINARY = bytes(range(256)) * 4
INITIAL_FILES: Mapping[str, str | bytes] = {
    "README.md": "# demo\n\nhello\n",
    "src/app.py": "def main() -> int:\n    return 0\n",
    "src/util.py": "".join(f"line {n}\n" for n in range(40)),
    "run.sh": "#!/bin/sh\necho hi\n",
    "data.bin": BINARY,
}


def _signature() -> pygit2.Signature:
    return pygit2.Signature("test", "test@localhost", 1_700_000_000, 0)


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit_all(root: Path, message: str = "change") -> str:
    """Stage everything (deletions too) in the repository at ``root`` and commit on HEAD."""
    repo = pygit2.Repository(str(root))
    index = repo.index
    deleted = [path for path, status in repo.status().items() if status & FileStatus.WT_DELETED]
    index.add_all()
    if deleted:
        index.remove_all(deleted)
    index.write()
    tree = index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", _signature(), _signature(), message, tree, parents))


def make_repo(root: Path, files: Mapping[str, str | bytes] = INITIAL_FILES) -> Path:
    pygit2.init_repository(str(root), initial_head="main")
    write_files(root, files)
    commit_all(root, "initial commit")
    return root


def unwrap(result: Result[T, DomainError]) -> T:
    match result:
        case Success(value):
            return value  # type: ignore[no-any-return]
        case Failure(error):
            raise AssertionError(f"expected success, got {error!r}")
    raise AssertionError(result)


def failure(result: Result[T, DomainError]) -> DomainError:
    match result:
        case Failure(error):
            return error  # type: ignore[no-any-return]
    raise AssertionError(f"expected a failure, got {result!r}")


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    root = tmp_path / "repos"
    root.mkdir()
    return root


@pytest.fixture
def git_repo(repo_root: Path) -> Path:
    return make_repo(repo_root / "project")


@pytest.fixture
def worktrees(tmp_path: Path, repo_root: Path) -> GitWorktrees:
    return GitWorktrees([repo_root], tmp_path / "worktrees")
