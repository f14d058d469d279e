"""Laws of the sandbox's decision: what a command may write, whatever paths it is handed."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import event, given
from hypothesis import strategies as st
from returns.result import Failure, Success

from core.sandbox import (
    GIT_SHARED_WRITABLE,
    INSIDE_MARK,
    GitLayout,
    SandboxPlan,
    bwrap_argv,
    worktree_of,
    writable_paths,
)

ROOT = "/data/worktrees"
CHECKOUT = "/home/me/project"
COMMON = f"{CHECKOUT}/.git"
STATE = "/data/agents/qwen"
TMP = "/data/agents/qwen/tmp"

names = st.text(alphabet="abcxyz-_.0", min_size=1, max_size=6).filter(lambda n: n not in {".", ".."})
parts = st.lists(st.one_of(names, st.sampled_from(["..", ".", ""])), min_size=0, max_size=5)
any_path = st.builds(lambda p, absolute: ("/" if absolute else "") + "/".join(p), parts, st.booleans())
# valid paths too, so the laws are also checked on plans that are accepted, not only on refused ones
worktrees = any_path | st.builds(lambda a, b: f"{ROOT}/{a}/{b}", names, names)
gitdirs = any_path | st.builds(lambda a: f"{COMMON}/worktrees/{a}", names)
extras = any_path | st.builds(lambda p: "/".join(["/data/agents", *p]), st.lists(names, max_size=3))


def _plan(worktree: str | None = f"{ROOT}/project/chat-1", **changes: object) -> SandboxPlan:
    fields: dict[str, object] = {
        "worktrees_root": ROOT,
        "cwd": worktree or "/",
        "worktree": worktree,
        "git": GitLayout(gitdir=f"{COMMON}/worktrees/chat-1", commondir=COMMON) if worktree else None,
        "writable": (STATE, TMP),
        "tmp_dir": TMP,
    }
    fields.update(changes)
    return SandboxPlan(**fields)  # type: ignore[arg-type]


def _bound(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--bind", "--bind-try")]


def _inside(path: str, root: str) -> bool:
    return path == root or PurePosixPath(root) in PurePosixPath(path).parents


@given(worktree=worktrees, gitdir=gitdirs, extra=extras)
def test_nothing_outside_the_allowed_set_is_ever_writable(worktree: str, gitdir: str, extra: str) -> None:
    plan = _plan(worktree=worktree, git=GitLayout(gitdir=gitdir, commondir=COMMON), writable=(extra, TMP), cwd="/")
    decided = writable_paths(plan)
    if isinstance(decided, Success):
        event("accepted")
        common = PurePosixPath(COMMON)
        given = (worktree, gitdir, extra, TMP, *(str(common / n) for n in GIT_SHARED_WRITABLE))
        allowed = {str(PurePosixPath(path)) for path in given}  # a trailing "/" is dropped, nothing else
        for path in decided.unwrap():
            assert path in allowed
            assert not _inside(CHECKOUT, path), path  # the checkout (or a parent of it) is never writable
            assert not _inside(ROOT, path), path  # nor the worktrees root: only one worktree inside it
            assert PurePosixPath(path).is_absolute()
            assert ".." not in PurePosixPath(path).parts
        assert _inside(worktree, ROOT)
        assert worktree != ROOT
        assert PurePosixPath(gitdir).parent == common / "worktrees"


@given(path=any_path)
def test_a_path_that_is_not_absolute_and_resolved_is_refused_not_guessed(path: str) -> None:
    pure = PurePosixPath(path)
    unresolved = not pure.is_absolute() or ".." in pure.parts or str(pure) != path.rstrip("/") or not path
    for plan in (_plan(worktree=path), _plan(writable=(path, TMP)), _plan(cwd=path)):
        if unresolved:
            assert isinstance(bwrap_argv(plan, "bwrap", ("bash",)), Failure)


@given(cwd=any_path)
def test_the_worktree_of_a_directory_is_two_levels_below_the_root_and_holds_it(cwd: str) -> None:
    found = worktree_of(cwd, ROOT)
    if found is not None:
        assert _inside(cwd, found)
        assert PurePosixPath(found).parent.parent == PurePosixPath(ROOT)


def test_a_commit_needs_exactly_the_worktree_its_gitdir_and_the_shared_object_stores() -> None:
    argv = bwrap_argv(_plan(), "/usr/bin/bwrap", ("/bin/bash", "-c", "true")).unwrap()
    assert argv[:4] == ["/usr/bin/bwrap", "--ro-bind", "/", "/"]  # read-only first, writable binds on top
    assert _bound(argv) == [
        f"{ROOT}/project/chat-1",
        f"{COMMON}/worktrees/chat-1",
        f"{COMMON}/objects",
        f"{COMMON}/refs",
        f"{COMMON}/logs",
        STATE,
        TMP,
    ]
    assert f"{COMMON}/config" not in argv
    assert f"{COMMON}/hooks" not in argv
    assert argv[argv.index("--") + 1 :] == ["/bin/bash", "-c", "true"]
    assert argv[argv.index("TMPDIR") + 1] == TMP
    assert INSIDE_MARK in argv
    assert "--unshare-net" not in argv
    assert "--unshare-net" in bwrap_argv(_plan(share_net=False), "bwrap", ("sh",)).unwrap()


@given(writable=st.sampled_from(["/", "/home", "/home/me", CHECKOUT, "/data", ROOT]))
def test_a_writable_dir_holding_the_checkout_or_the_worktrees_is_refused(writable: str) -> None:
    assert isinstance(writable_paths(_plan(writable=(writable, TMP))), Failure)


def test_outside_any_worktree_only_the_agent_dirs_are_writable() -> None:
    argv = bwrap_argv(_plan(worktree=None, cwd="/data/agents/qwen/home"), "bwrap", ("sh",)).unwrap()
    assert _bound(argv) == [STATE, TMP]


def test_a_temp_dir_that_is_not_writable_is_refused() -> None:
    assert isinstance(writable_paths(_plan(tmp_dir="/tmp")), Failure)
