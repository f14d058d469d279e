"""GitWorktrees on real temporary repositories: validation, ensure/reuse/recreate, diff, write_file."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pygit2
import pytest

from adapters.git.naming import repo_dir_name
from adapters.git.worktrees import GitWorktrees
from core.errors import Conflict, GitError, InvalidInput
from core.model import Worktree, WorktreeStatus
from tests.plugins.git_repos import AT, BINARY, commit_all, failure, make_repo, unwrap


async def _ensure(worktrees: GitWorktrees, repo: Path, chat: str = "c1", ref: str | None = None) -> Worktree:
    return unwrap(await worktrees.ensure(chat, str(repo), ref, None, AT))


# validate_repo ---------------------------------------------------------------------------------------------


async def test_validate_accepts_a_repository_inside_the_roots(worktrees: GitWorktrees, git_repo: Path) -> None:
    assert unwrap(await worktrees.validate_repo(str(git_repo))) == str(git_repo.resolve())


@pytest.mark.parametrize("case", ["not_a_repo", "no_commits", "bare", "outside_roots", "missing", "subdirectory"])
async def test_validate_refuses_unusable_paths(
    case: str, worktrees: GitWorktrees, git_repo: Path, repo_root: Path, tmp_path: Path
) -> None:
    if case == "not_a_repo":
        path = repo_root / "plain"
        path.mkdir()
    elif case == "no_commits":
        path = repo_root / "empty"
        pygit2.init_repository(str(path))
    elif case == "bare":
        path = repo_root / "bare.git"
        pygit2.init_repository(str(path), bare=True)
    elif case == "outside_roots":
        path = make_repo(tmp_path / "elsewhere")
    elif case == "missing":
        path = repo_root / "nope"
    else:
        path = git_repo / "src"
    error = failure(await worktrees.validate_repo(str(path)))
    assert isinstance(error, GitError)
    assert error.field == "repo_path"
    assert str(path.name) in error.detail
    # nothing was created anywhere
    assert not worktrees.worktrees_dir.exists()
    assert failure(await worktrees.ensure("c1", str(path), None, None, AT)).field == "repo_path"
    assert not worktrees.worktrees_dir.exists()


# ensure ----------------------------------------------------------------------------------------------------


async def test_ensure_creates_the_worktree_on_its_branch(worktrees: GitWorktrees, git_repo: Path) -> None:
    head = str(pygit2.Repository(str(git_repo)).head.target)
    worktree = await _ensure(worktrees, git_repo)
    path = Path(worktree.path)
    assert worktree.base_commit == head
    assert worktree.branch == "hearth/chat-c1"
    assert worktree.status is WorktreeStatus.ACTIVE
    assert path.name == "chat-c1"
    assert path.parent.parent == worktrees.worktrees_dir
    assert path.parent.name.startswith("project-")
    assert (path / "src/app.py").read_text() == (git_repo / "src/app.py").read_text()
    repo = pygit2.Repository(str(git_repo))
    assert repo.list_worktrees() == ["chat-c1"]
    assert pygit2.Repository(str(path)).head.shorthand == "hearth/chat-c1"


async def test_ensure_from_a_given_ref(worktrees: GitWorktrees, git_repo: Path) -> None:
    first = str(pygit2.Repository(str(git_repo)).head.target)
    (git_repo / "later.txt").write_text("later\n")
    commit_all(git_repo, "later")
    worktree = await _ensure(worktrees, git_repo, ref=first)
    assert worktree.base_commit == first
    assert not (Path(worktree.path) / "later.txt").exists()
    error = failure(await worktrees.ensure("c2", str(git_repo), "no-such-ref", None, AT))
    assert error.field == "ref"
    assert "hearth/chat-c2" not in pygit2.Repository(str(git_repo)).listall_branches()


async def test_ensure_reuses_and_recreates_a_vanished_directory(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    path = Path(worktree.path)
    (path / "work.txt").write_text("in progress\n")
    assert unwrap(await worktrees.ensure("c1", str(git_repo), None, worktree, AT)) == worktree
    assert (path / "work.txt").exists()
    # commit something on the branch, then lose the directory: it comes back from the branch
    commit_all(path, "agent commit")
    shutil.rmtree(path)  # a person deleting it by hand
    again = unwrap(await worktrees.ensure("c1", str(git_repo), None, worktree, AT))
    assert again == worktree
    assert (path / "work.txt").read_text() == "in progress\n"
    assert pygit2.Repository(str(git_repo)).list_worktrees() == ["chat-c1"]


async def test_ensure_refuses_archived_rows_and_bad_chat_ids(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    archived = worktree.model_copy(update={"status": WorktreeStatus.ARCHIVED})
    assert isinstance(failure(await worktrees.ensure("c1", str(git_repo), None, archived, AT)), Conflict)
    bad = failure(await worktrees.ensure("../evil", str(git_repo), None, None, AT))
    assert isinstance(bad, InvalidInput)
    assert bad.field == "chat_id"


async def test_failed_add_leaves_no_branch_behind(worktrees: GitWorktrees, git_repo: Path) -> None:
    # a file where the repository's worktree folder should go makes the add itself fail
    worktrees.worktrees_dir.mkdir(parents=True)
    (worktrees.worktrees_dir / repo_dir_name(git_repo.resolve())).write_text("in the way")
    error = failure(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    assert isinstance(error, GitError)
    assert "could not create worktree" in error.detail
    repo = pygit2.Repository(str(git_repo))
    assert "hearth/chat-c1" not in repo.listall_branches()
    assert repo.list_worktrees() == []


async def test_ensure_refuses_a_foreign_directory_in_the_way(worktrees: GitWorktrees, git_repo: Path) -> None:
    path = worktrees.worktrees_dir / repo_dir_name(git_repo.resolve()) / "chat-c1"
    path.mkdir(parents=True)
    (path / "someone-elses.txt").write_text("keep me")
    error = failure(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    assert "already exists" in error.detail
    assert (path / "someone-elses.txt").read_text() == "keep me"
    assert "hearth/chat-c1" not in pygit2.Repository(str(git_repo)).listall_branches()


# diff ------------------------------------------------------------------------------------------------------


async def test_diff_covers_every_kind_of_change(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "README.md").write_text("# demo\n\nhello there\n")  # modified
    (root / "src/util.py").rename(root / "src/helpers.py")  # renamed
    (root / "src/app.py").unlink()  # deleted
    (root / "docs/deep").mkdir(parents=True)  # untracked directory, nested
    (root / "docs/deep/guide.md").write_text("guide\n")
    (root / "data.bin").write_bytes(BINARY[::-1])  # binary
    (root / "run.sh").chmod(0o755)  # mode change
    by_path = {d.path: d for d in unwrap(await worktrees.diff(worktree))}
    assert set(by_path) == {"README.md", "src/helpers.py", "src/app.py", "docs/deep/guide.md", "data.bin", "run.sh"}
    assert by_path["README.md"].status == "modified"
    assert "+hello there" in by_path["README.md"].diff
    assert by_path["src/helpers.py"].status == "renamed"
    assert by_path["src/helpers.py"].old_path == "src/util.py"
    assert by_path["src/app.py"].status == "deleted"
    assert "-def main() -> int:" in by_path["src/app.py"].diff
    assert by_path["docs/deep/guide.md"].status == "added"
    assert "+guide" in by_path["docs/deep/guide.md"].diff
    assert by_path["data.bin"].binary
    assert "old mode 100644" in by_path["run.sh"].diff
    assert "new mode 100755" in by_path["run.sh"].diff


async def test_diff_shows_symlinks_as_links_and_reads_nothing_outside(
    worktrees: GitWorktrees, git_repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    (outside_dir / "inner.txt").write_text("ALSO SECRET\n")
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "leak").symlink_to(secret)
    (root / "leakdir").symlink_to(outside_dir)
    diffs = unwrap(await worktrees.diff(worktree))
    assert {d.path for d in diffs} == {"leak", "leakdir"}
    text = "".join(d.diff for d in diffs)
    assert "SECRET" not in text
    assert f"+{secret}" in text
    assert "new file mode 120000" in text


async def test_diff_includes_work_committed_on_the_branch(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "committed.txt").write_text("by an agent that commits\n")
    commit_all(root, "agent commit")
    assert [d.path for d in unwrap(await worktrees.diff(worktree))] == ["committed.txt"]


# write_file ------------------------------------------------------------------------------------------------


async def test_write_file_edits_inside_the_worktree(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    unwrap(await worktrees.write_file(worktree, "notes/new.md", "manual\n"))
    unwrap(await worktrees.write_file(worktree, "README.md", "rewritten\n"))
    root = Path(worktree.path)
    assert (root / "notes/new.md").read_text() == "manual\n"
    assert (root / "README.md").read_text() == "rewritten\n"
    assert {d.path for d in unwrap(await worktrees.diff(worktree))} == {"notes/new.md", "README.md"}


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/hosts", "src/../../escape.txt", ".git/config", ""])
async def test_write_file_refuses_paths_outside(worktrees: GitWorktrees, git_repo: Path, path: str) -> None:
    worktree = await _ensure(worktrees, git_repo)
    error = failure(await worktrees.write_file(worktree, path, "x"))
    assert isinstance(error, InvalidInput)
    assert error.field == "path"
    assert not (worktrees.worktrees_dir / "escape.txt").exists()


async def test_write_file_refuses_symlink_escapes(worktrees: GitWorktrees, git_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "linkdir").symlink_to(outside)
    (root / "linkfile").symlink_to(victim)
    for path in ("linkdir/planted.txt", "linkfile"):
        error = failure(await worktrees.write_file(worktree, path, "pwned\n"))
        assert isinstance(error, InvalidInput)
        assert "symlink" in error.detail
    assert victim.read_text() == "untouched\n"
    assert list(outside.iterdir()) == []


async def test_validate_refuses_hearths_own_worktrees(git_repo: Path, tmp_path: Path) -> None:
    worktrees = GitWorktrees([tmp_path], tmp_path / "worktrees")  # the root holds the worktrees dir too
    worktree = await _ensure(worktrees, git_repo)
    error = failure(await worktrees.validate_repo(worktree.path))
    assert error.field == "repo_path"
    assert "chat worktrees" in error.detail


async def test_concurrent_operations_on_one_repository_are_serialized(worktrees: GitWorktrees, git_repo: Path) -> None:
    chats = [f"c{n}" for n in range(8)]
    created = await asyncio.gather(*(worktrees.ensure(chat, str(git_repo), None, None, AT) for chat in chats))
    rows = [unwrap(result) for result in created]
    for row in rows:
        (Path(row.path) / f"{row.chat_id}.txt").write_text("work\n")
    results = await asyncio.gather(*(worktrees.apply(row, None) for row in rows))
    for result in results:
        unwrap(result)
    assert sorted(p.name for p in git_repo.glob("c*.txt")) == sorted(f"{chat}.txt" for chat in chats)
    assert sorted(pygit2.Repository(str(git_repo)).list_worktrees()) == sorted(f"chat-{chat}" for chat in chats)
    deleted = await asyncio.gather(*(worktrees.soft_delete(row, AT) for row in rows))
    assert all(unwrap(result).status is WorktreeStatus.ARCHIVED for result in deleted)
    assert pygit2.Repository(str(git_repo)).list_worktrees() == []


async def test_ensure_refuses_a_corrupt_worktree_instead_of_reusing_it(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    (Path(worktree.path) / ".git").write_text("garbage\n")
    error = failure(await worktrees.ensure("c1", str(git_repo), None, worktree, AT))
    assert error.field == "path"
    assert "not a readable git worktree" in error.detail


async def test_validate_refuses_a_symlink_leading_out_of_the_roots(
    worktrees: GitWorktrees, repo_root: Path, tmp_path: Path
) -> None:
    outside = make_repo(tmp_path / "outside-repo")
    (repo_root / "innocent").symlink_to(outside)
    error = failure(await worktrees.validate_repo(str(repo_root / "innocent")))
    assert "outside the configured repository roots" in error.detail
