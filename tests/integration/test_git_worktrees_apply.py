"""Apply (all or nothing, then re-baseline) and discard (all or paths) on real temporary repositories."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2

from adapters.git.worktrees import GitWorktrees
from core.errors import GitError, InvalidInput
from core.model import Worktree
from tests.plugins.git_repos import AT, BINARY, INITIAL_FILES, commit_all, failure, unwrap


async def _ensure(worktrees: GitWorktrees, repo: Path) -> Worktree:
    return unwrap(await worktrees.ensure("c1", str(repo), None, None, AT))


def _change_everything(root: Path) -> None:
    (root / "README.md").write_text("# demo\n\nhello there\n")
    (root / "src/util.py").rename(root / "src/helpers.py")
    (root / "src/app.py").unlink()
    (root / "docs/deep").mkdir(parents=True)
    (root / "docs/deep/guide.md").write_text("guide\n")
    (root / "data.bin").write_bytes(BINARY[::-1])
    (root / "run.sh").chmod(0o755)
    (root / "link").symlink_to("README.md")


async def test_apply_all_lands_every_kind_of_change_and_rebaselines(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    _change_everything(root)
    applied = unwrap(await worktrees.apply(worktree, None))
    assert (git_repo / "README.md").read_text() == "# demo\n\nhello there\n"
    assert (git_repo / "src/helpers.py").read_text() == INITIAL_FILES["src/util.py"]
    assert not (git_repo / "src/util.py").exists()
    assert not (git_repo / "src/app.py").exists()
    assert (git_repo / "docs/deep/guide.md").read_text() == "guide\n"
    assert (git_repo / "data.bin").read_bytes() == BINARY[::-1]
    assert os.access(git_repo / "run.sh", os.X_OK)
    assert os.readlink(git_repo / "link") == "README.md"
    # re-baselined: the base moved, nothing is pending, and the files in the worktree are untouched
    assert applied.base_commit != worktree.base_commit
    assert unwrap(await worktrees.diff(applied)) == []
    assert (root / "docs/deep/guide.md").exists()
    preflight = await worktrees.preflight(applied, 0)
    assert preflight.dirty_files == ()
    assert preflight.unpushed_commits == 0
    assert preflight.errors == ()
    # later work shows alone
    (root / "README.md").write_text("newer\n")
    assert [d.path for d in unwrap(await worktrees.diff(applied))] == ["README.md"]


async def test_apply_some_paths_keeps_the_rest_pending(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    _change_everything(root)
    applied = unwrap(await worktrees.apply(worktree, ["README.md", "src/helpers.py"]))
    assert (git_repo / "README.md").read_text() == "# demo\n\nhello there\n"
    assert (git_repo / "src/helpers.py").exists()
    assert not (git_repo / "src/util.py").exists()  # a rename moves both of its paths
    assert (git_repo / "src/app.py").exists()  # not chosen: untouched
    assert not (git_repo / "docs").exists()
    pending = {d.path for d in unwrap(await worktrees.diff(applied))}
    assert pending == {"src/app.py", "docs/deep/guide.md", "data.bin", "run.sh", "link"}


async def test_apply_conflict_names_the_files_and_changes_nothing(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "README.md").write_text("# demo\n\nfrom the agent\n")
    (root / "new.txt").write_text("new\n")
    (root / "src/app.py").write_text("def main() -> int:\n    return 1\n")
    # the person edited README.md in their own checkout meanwhile
    (git_repo / "README.md").write_text("# demo\n\nfrom the person\n")
    before = {p: p.read_bytes() for p in git_repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    error = failure(await worktrees.apply(worktree, None))
    assert isinstance(error, GitError)
    assert error.paths == ("README.md",)
    assert "README.md" in error.detail
    after = {p: p.read_bytes() for p in git_repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    # and the worktree still has all of its work
    assert {d.path for d in unwrap(await worktrees.diff(worktree))} == {"README.md", "new.txt", "src/app.py"}


async def test_apply_refuses_a_file_the_checkout_already_has(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    (Path(worktree.path) / "new.txt").write_text("agent\n")
    (git_repo / "new.txt").write_text("person\n")
    error = failure(await worktrees.apply(worktree, None))
    assert isinstance(error, GitError), error
    assert error.paths == ("new.txt",), error
    assert (git_repo / "new.txt").read_text() == "person\n"


async def test_apply_onto_a_checkout_that_moved_on(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    original = str(INITIAL_FILES["src/util.py"])
    (Path(worktree.path) / "src/util.py").write_text(original.replace("line 3\n", "LINE 3\n"))
    (git_repo / "src/util.py").write_text(original.replace("line 35\n", "line 35!\n"))
    commit_all(git_repo, "person's commit")
    unwrap(await worktrees.apply(worktree, None))
    text = (git_repo / "src/util.py").read_text()
    assert "LINE 3\n" in text
    assert "line 35!\n" in text


async def test_apply_unknown_path_is_refused(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    (Path(worktree.path) / "README.md").write_text("changed\n")
    error = failure(await worktrees.apply(worktree, ["README.md", "nope.txt"]))
    assert isinstance(error, InvalidInput)
    assert "nope.txt" in error.detail
    assert (git_repo / "README.md").read_text() == INITIAL_FILES["README.md"]


async def test_discard_all_resets_to_base(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    _change_everything(root)
    (root / "committed.txt").write_text("x\n")
    commit_all(root, "agent commit")
    (root / "untracked/dir").mkdir(parents=True)
    (root / "untracked/dir/file.txt").write_text("x\n")
    unwrap(await worktrees.discard(worktree, None))
    assert unwrap(await worktrees.diff(worktree)) == []
    assert not (root / "untracked").exists()
    assert not (root / "committed.txt").exists()
    assert (root / "src/app.py").read_text() == INITIAL_FILES["src/app.py"]
    assert str(pygit2.Repository(str(root)).head.target) == worktree.base_commit
    preflight = await worktrees.preflight(worktree, 0)
    assert (preflight.dirty_files, preflight.unpushed_commits, preflight.errors) == ((), 0, ())


async def test_discard_paths_restores_only_those(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    _change_everything(root)
    unwrap(await worktrees.discard(worktree, ["src/helpers.py", "docs/deep/guide.md", "run.sh", "src/app.py"]))
    assert (root / "src/util.py").read_text() == INITIAL_FILES["src/util.py"]
    assert not (root / "src/helpers.py").exists()
    assert not (root / "docs").exists()
    assert not os.access(root / "run.sh", os.X_OK)
    assert (root / "src/app.py").read_text() == INITIAL_FILES["src/app.py"]
    assert {d.path for d in unwrap(await worktrees.diff(worktree))} == {"README.md", "data.bin", "link"}


async def test_discard_never_writes_through_a_symlinked_directory(
    worktrees: GitWorktrees, git_repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    for name in ("app.py", "util.py"):
        (root / "src" / name).unlink()
    (root / "src").rmdir()
    (root / "src").symlink_to(outside)  # the agent swapped a directory for a link out of the worktree
    unwrap(await worktrees.discard(worktree, ["src/app.py"]))
    assert list(outside.iterdir()) == []
    assert not (root / "src").is_symlink()
    assert (root / "src/app.py").read_text() == INITIAL_FILES["src/app.py"]


async def test_apply_onto_uncommitted_edits_elsewhere_in_the_file(worktrees: GitWorktrees, git_repo: Path) -> None:
    original = str(INITIAL_FILES["src/util.py"])
    worktree = await _ensure(worktrees, git_repo)
    (Path(worktree.path) / "src/util.py").write_text(original.replace("line 3\n", "LINE 3\n"))
    (git_repo / "src/util.py").write_text(original.replace("line 35\n", "line 35!\n"))  # not committed
    unwrap(await worktrees.apply(worktree, None))
    text = (git_repo / "src/util.py").read_text()
    assert "LINE 3\n" in text
    assert "line 35!\n" in text


async def test_a_file_replaced_by_a_symlink_diffs_applies_and_discards(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "README.md").unlink()
    (root / "README.md").symlink_to("src/app.py")
    diffs = unwrap(await worktrees.diff(worktree))
    assert [(d.path, d.status) for d in diffs] == [("README.md", "typechange")]
    unwrap(await worktrees.discard(worktree, ["README.md"]))
    assert not (root / "README.md").is_symlink()
    assert (root / "README.md").read_text() == INITIAL_FILES["README.md"]
    (root / "README.md").unlink()
    (root / "README.md").symlink_to("src/app.py")
    applied = unwrap(await worktrees.apply(worktree, ["README.md"]))
    assert os.readlink(git_repo / "README.md") == "src/app.py"
    assert unwrap(await worktrees.diff(applied)) == []


async def test_discard_a_file_that_became_a_directory(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "README.md").unlink()
    (root / "README.md").mkdir()
    (root / "README.md/inner.txt").write_text("inner\n")
    assert {d.path for d in unwrap(await worktrees.diff(worktree))} == {"README.md", "README.md/inner.txt"}
    unwrap(await worktrees.discard(worktree, ["README.md", "README.md/inner.txt"]))
    assert (root / "README.md").read_text() == INITIAL_FILES["README.md"]
    assert unwrap(await worktrees.diff(worktree)) == []


async def test_ignored_files_are_not_changes_and_survive_discard(worktrees: GitWorktrees, git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("build/\n")
    commit_all(git_repo, "ignore build output")
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "build").mkdir()
    (root / "build/out.o").write_bytes(b"\x00object")
    (root / "stray.txt").write_text("stray\n")
    assert [d.path for d in unwrap(await worktrees.diff(worktree))] == ["stray.txt"]
    unwrap(await worktrees.discard(worktree, None))
    assert not (root / "stray.txt").exists()
    assert (root / "build/out.o").exists()
