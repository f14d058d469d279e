"""The stat-cached base -> working directory deltas equal libgit2's plain tree diff (which reads every file) through
every kind of change, including files rewritten within one filesystem tick, and leave the worktree's own index,
HEAD and worktree list alone."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from adapters.git.fingerprint import SETTLE_NS
from adapters.git.statcache import Kept, caches_of, plain_deltas, workdir_deltas
from adapters.git.statcache_dir import STALE_LOCK_SECONDS
from adapters.git.state import WORKDIR_FLAGS
from adapters.git.worktrees import GitWorktrees
from core.model import Worktree
from tests.plugins.git_repos import AT, BINARY, INITIAL_FILES, commit_all, make_repo, unwrap

Shape = set[tuple[object, ...]]


def _shape(deltas: list[pygit2.DiffDelta]) -> Shape:
    """What the worktree state is built from (the new content is hashed afresh from the file, so ids are left out:
    libgit2 skips hashing a file whose mode alone changed when it has stat data)."""
    return {(d.status, d.old_file.path, d.new_file.path, d.old_file.mode, d.new_file.mode) for d in deltas}


class Checker:
    """Each call opens the worktree afresh, as a new process would (an opened repository caches its settings)."""

    def __init__(self, worktree: Worktree, worktrees_dir: Path) -> None:
        self.root = Path(worktree.path)
        self.commit = worktree.base_commit
        self.worktrees_dir = worktrees_dir
        caches = caches_of(worktrees_dir, self.root)
        assert caches is not None
        self.caches = caches

    def kept(self, settle_ns: int = SETTLE_NS) -> Kept:
        return Kept.at(self.worktrees_dir, self.root, settle_ns)

    @property
    def repo(self) -> pygit2.Repository:
        return pygit2.Repository(str(self.root))

    @property
    def base(self) -> pygit2.Tree:
        return self.repo[self.commit].peel(pygit2.Commit).tree

    def plain(self) -> Shape:
        return _shape(plain_deltas(self.base, WORKDIR_FLAGS))

    def cached(self, from_cache: bool = True, kept: Kept | None = None) -> Shape:
        repo = self.repo
        base = repo[self.commit].peel(pygit2.Commit).tree
        deltas, reader = workdir_deltas(repo, base, WORKDIR_FLAGS, self.kept() if kept is None else kept)
        cache = (self.caches / str(base.id)).resolve()
        assert (Path(reader.path).resolve() == cache) is from_cache
        return _shape(deltas)

    def check(self, from_cache: bool = True) -> Shape:
        """The cached deltas, twice (the second from the stat data the first recorded), against the plain ones."""
        expected = self.plain()
        assert self.cached(from_cache) == expected
        assert self.cached(from_cache) == expected
        return expected


@pytest.fixture
async def checker(worktrees: GitWorktrees, git_repo: Path) -> Checker:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    checker = Checker(worktree, worktrees.worktrees_dir)
    assert checker.check() == set()
    return checker


def _same_size_rewrite(root: Path) -> None:
    (root / "README.md").write_text("# demo\n\nhello\n")  # same content, new mtime: hashed once, then cached
    (root / "README.md").write_text("# DEMO\n\nHELLO\n")  # same size, most likely the same tick


def _rewrite_keeping_mtime(root: Path) -> None:
    target = root / "src/util.py"
    before = target.stat()
    target.write_text(str(INITIAL_FILES["src/util.py"]).replace("line 1\n", "LINE 1\n"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # as tar or rsync -t would leave it


def _symlinks(root: Path) -> None:
    outside = root.parent.parent / "outside.txt"
    outside.write_text("SECRET\n")
    (root / "leak").symlink_to(outside)
    (root / "leakdir").symlink_to(root.parent.parent)
    (root / "README.md").unlink()
    (root / "README.md").symlink_to("src/app.py")  # a tracked file becomes a link


def _type_changes(root: Path) -> None:
    (root / "src/app.py").unlink()
    (root / "src/app.py").mkdir()
    (root / "src/app.py/inner.py").write_text("x = 1\n")
    (root / "run.sh").chmod(0o755)


def _nested_repository(root: Path) -> None:
    make_repo(root / "vendor/lib", {"a.txt": "a\n"})
    (root / "vendor/lib/b.txt").write_text("b\n")
    (root / "vendor/plain.txt").write_text("plain\n")


def _ignored(root: Path) -> None:
    (root / ".gitignore").write_text("*.log\nbuild/\ndata.bin\n")
    (root / "debug.log").write_text("noise\n")
    (root / "build").mkdir()
    (root / "build/out.o").write_bytes(b"\0")
    (root / "data.bin").write_bytes(BINARY[::-1])  # tracked in the base: an ignore rule does not hide it


def _renamed_and_deleted(root: Path) -> None:
    (root / "src/util.py").rename(root / "src/helpers.py")
    (root / "run.sh").unlink()
    (root / "docs/deep").mkdir(parents=True)
    (root / "docs/deep/guide.md").write_text("guide\n")


def _staged_and_committed(root: Path) -> None:
    (root / "committed.txt").write_text("by an agent that commits\n")
    commit_all(root, "agent commit")
    repo = pygit2.Repository(str(root))
    (root / "README.md").write_text("staged version\n")
    repo.index.add("README.md")
    repo.index.write()
    (root / "README.md").write_text(str(INITIAL_FILES["README.md"]))  # back to the base in the files


def _deleted_then_back_ignored(root: Path) -> None:
    (root / ".gitignore").write_text("*.md\n")
    (root / "README.md").unlink()


CHANGES: list[Callable[[Path], None]] = [
    _staged_and_committed,  # first: committing cannot take a nested repository in
    _same_size_rewrite,
    _rewrite_keeping_mtime,
    _symlinks,
    _type_changes,
    _nested_repository,
    _ignored,
    _renamed_and_deleted,
    _deleted_then_back_ignored,
]


@pytest.mark.parametrize("change", CHANGES)
async def test_cached_deltas_equal_the_plain_tree_diff(checker: Checker, change: Callable[[Path], None]) -> None:
    change(checker.root)
    assert checker.check()


async def test_changes_on_top_of_each_other_stay_equal(checker: Checker) -> None:
    for change in CHANGES:
        change(checker.root)
        checker.check()
    (checker.root / "README.md").unlink(missing_ok=True)
    (checker.root / "README.md").write_text(str(INITIAL_FILES["README.md"]))  # an ignored path, but in the base
    checker.check()


async def test_a_racily_clean_entry_is_not_trusted_after_a_later_write(checker: Checker) -> None:
    readme, other = checker.root / "README.md", checker.root / "src/app.py"
    readme.write_text(str(INITIAL_FILES["README.md"]))
    assert checker.cached() == set()  # hashed, unchanged: its stat data is recorded
    readme.write_text("# DEMO\n\nHELLO\n")  # same size, quite possibly within the same tick
    other.write_text(str(INITIAL_FILES["src/app.py"]))  # makes the next diff write the cache again
    for _ in range(3):
        assert {path for _, _, path, *_ in checker.check()} == {"README.md"}


async def test_the_worktrees_own_index_head_and_list_are_untouched(
    worktrees: GitWorktrees, git_repo: Path, checker: Checker
) -> None:
    admin = Path(checker.repo.path)
    _staged_and_committed(checker.root)
    (checker.root / "new.txt").write_text("new\n")
    before = {path.name: path.read_bytes() for path in admin.iterdir() if path.is_file()}
    checker.check()
    assert {path.name: path.read_bytes() for path in admin.iterdir() if path.is_file()} == before
    assert pygit2.Repository(str(git_repo)).list_worktrees() == ["chat-c1"]
    assert [path.name for path in checker.caches.iterdir()] == [str(checker.base.id)]


async def test_a_locked_cache_falls_back_to_the_plain_diff(checker: Checker) -> None:
    cache = checker.caches / str(checker.base.id)
    (cache / "index.lock").write_text("another process\n")
    (checker.root / "README.md").write_text(str(INITIAL_FILES["README.md"]))  # the cache would want to record it
    (checker.root / "new.txt").write_text("new\n")
    assert checker.cached(from_cache=False) == checker.plain()  # the plain diff answered


async def test_a_lock_left_by_a_dead_process_is_cleared(checker: Checker) -> None:
    cache = checker.caches / str(checker.base.id)
    lock = cache / "index.lock"
    lock.write_text("a process that died mid-write\n")
    old = time.time() - STALE_LOCK_SECONDS - 5
    os.utime(lock, (old, old))
    (checker.root / "README.md").write_text(str(INITIAL_FILES["README.md"]))  # the cache wants to record it
    checker.check()
    assert not lock.exists()


async def test_a_build_left_by_a_dead_process_is_cleared(checker: Checker) -> None:
    left = checker.caches / ".building-0123"
    left.mkdir()
    old = time.time() - STALE_LOCK_SECONDS - 5
    os.utime(left, (old, old))
    fresh = checker.caches / ".building-4567"  # another process's, under way
    fresh.mkdir()
    shutil.rmtree(checker.caches / str(checker.base.id))
    checker.check()  # builds the cache again
    assert sorted(path.name for path in checker.caches.iterdir()) == [".building-4567", str(checker.base.id)]


async def test_a_new_base_gets_its_own_cache_and_the_old_one_goes(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    (Path(worktree.path) / "README.md").write_text("applied\n")
    assert [d.path for d in unwrap(await worktrees.diff(worktree))] == ["README.md"]
    applied = unwrap(await worktrees.apply(worktree, None))
    assert unwrap(await worktrees.diff(applied)) == []
    (Path(worktree.path) / "src/app.py").write_text("later\n")
    assert [d.path for d in unwrap(await worktrees.diff(applied))] == ["src/app.py"]
    new_base = pygit2.Repository(str(git_repo))[applied.base_commit].peel(pygit2.Commit).tree
    caches = caches_of(worktrees.worktrees_dir, Path(worktree.path))
    assert caches is not None
    assert [path.name for path in caches.iterdir()] == [str(new_base.id)]


async def test_a_new_worktree_has_its_cache_and_a_removed_one_takes_it_along(
    worktrees: GitWorktrees, git_repo: Path
) -> None:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    caches = caches_of(worktrees.worktrees_dir, Path(worktree.path))
    assert caches is not None
    tree = pygit2.Repository(str(git_repo))[worktree.base_commit].peel(pygit2.Commit).tree_id
    assert (caches / str(tree) / "index").is_file()  # from the stat data of hearth's own checkout
    # inside hearth's worktrees dir, outside the worktree and its admin entry (both writable to sandboxed agents)
    assert caches.resolve().is_relative_to(worktrees.worktrees_dir.resolve())
    assert not caches.resolve().is_relative_to(Path(worktree.path).resolve())
    admin = Path(pygit2.Repository(worktree.path).path)
    assert {path.name for path in admin.iterdir()} <= {"HEAD", "ORIG_HEAD", "commondir", "gitdir", "index", "logs"}
    unwrap(await worktrees.soft_delete(worktree, AT))
    assert not caches.exists()


async def test_a_submodule_in_the_base_comes_out_alike(worktrees: GitWorktrees, git_repo: Path, tmp_path: Path) -> None:
    sub = make_repo(tmp_path / "sub", {"s.txt": "s\n"})
    repo = pygit2.Repository(str(git_repo))
    (git_repo / ".gitmodules").write_text(f'[submodule "lib"]\n\tpath = lib\n\turl = {sub}\n')
    repo.index.add(".gitmodules")
    sub_head = pygit2.Repository(str(sub)).head.peel(pygit2.Commit).id
    repo.index.add(pygit2.IndexEntry("lib", sub_head, pygit2.enums.FileMode.COMMIT))
    repo.index.write()
    tree = repo.index.write_tree()
    who = pygit2.Signature("test", "test@localhost")
    repo.create_commit("HEAD", who, who, "a submodule", tree, [repo.head.target])
    checker = Checker(unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT)), worktrees.worktrees_dir)
    checker.check()
    (checker.root / "lib").mkdir(exist_ok=True)
    (checker.root / "lib/stray.txt").write_text("not a checkout of the submodule\n")
    checker.check()
    make_repo(checker.root / "lib2", {"x.txt": "x\n"})
    checker.check()
