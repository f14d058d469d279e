"""The stat cache and attributes: a file's hash depends on attributes and settings besides its bytes, so stat data
(and a stored blob) vouches for it only under the ones it was recorded under."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from adapters.git.statcache import Kept
from adapters.git.state import workdir_state
from adapters.git.worktrees import GitWorktrees
from tests.integration.test_git_worktrees_statcache import Checker
from tests.plugins.git_repos import AT, commit_all, unwrap


@pytest.fixture
async def crlf_checker(worktrees: GitWorktrees, git_repo: Path) -> Checker:
    (git_repo / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")  # committed as it is: no attributes say otherwise
    commit_all(git_repo, "a file with CRLF line ends")
    checker = Checker(unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT)), worktrees.worktrees_dir)
    assert checker.check() == set()
    return checker


async def test_attributes_changed_in_the_worktree_rehash_untouched_files(crlf_checker: Checker) -> None:
    root, kept = crlf_checker.root, crlf_checker.kept()
    (root / ".gitattributes").write_text("*.txt text\n")  # crlf.txt now hashes normalised: it differs from the base
    expected = crlf_checker.check(from_cache=False)
    assert {path for _, _, path, *_ in expected} == {".gitattributes", "crlf.txt"}
    for _ in range(2):  # the state kept between calls: the plain diff straight away
        assert crlf_checker.cached(from_cache=False, kept=kept) == expected
    (root / ".gitattributes").unlink()
    assert crlf_checker.cached(from_cache=False, kept=kept) == set()  # found back in line: the cache next time
    for _ in range(2):
        assert crlf_checker.cached(kept=kept) == set() == crlf_checker.plain()


@pytest.mark.parametrize("where", ["info/attributes", "core.attributesFile"])
async def test_attributes_outside_the_worktree_changed_discard_the_stat_data(
    where: str, crlf_checker: Checker, git_repo: Path, tmp_path: Path
) -> None:
    if where == "core.attributesFile":
        attributes = tmp_path / "attributes"
        pygit2.Repository(str(git_repo)).config["core.attributesFile"] = str(attributes)
    else:
        attributes = git_repo / ".git/info/attributes"
        attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("*.txt text\n")
    assert {path for _, _, path, *_ in crlf_checker.check()} == {"crlf.txt"}
    attributes.write_text("# nothing\n")  # the file itself changes, the config naming it does not
    assert crlf_checker.check() == set()


async def test_a_stored_blob_is_not_reused_under_other_attributes(crlf_checker: Checker) -> None:
    kept = crlf_checker.kept(settle_ns=0)
    (crlf_checker.root / "crlf.txt").write_bytes(b"one\r\nTWO\r\n")

    def blob_now(kept: Kept | None) -> pygit2.Oid:
        repo = crlf_checker.repo
        base = repo[crlf_checker.commit].peel(pygit2.Commit).tree
        return workdir_state(repo, base, kept)["crlf.txt"].id

    assert blob_now(kept) == blob_now(kept) == blob_now(None)  # stored once, then reused
    (crlf_checker.root / ".gitattributes").write_text("*.txt text\n")  # the same bytes now hash normalised
    assert blob_now(kept) == blob_now(None) != pygit2.hash(b"one\r\nTWO\r\n")
    assert blob_now(kept) == blob_now(None)
    (crlf_checker.root / ".gitattributes").write_text("*.txt -text\n")  # still not the base's, and different
    assert blob_now(kept) == blob_now(None) == pygit2.hash(b"one\r\nTWO\r\n")
