"""What a command an agent runs may write: the bubblewrap argument list for one command, decided from plain data.

The filesystem is mounted read-only from ``/`` by a fresh mount namespace (so it holds for root too); only the
chat's worktree, the git metadata a commit in that worktree writes, the agent's own state dirs and its temp dir
are bound writable on top. The user's checkout and the rest of ``.git`` (config, hooks) stay read-only. Every
path must arrive absolute and already resolved (symlinks followed by the caller): a path with ``..`` or a
relative path is refused here rather than guessed at, so a symlink planted in the worktree can never widen the
writable set. Kept free of pydantic so the sandbox shell, started once per command, imports it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from returns.result import Failure, Result, Success

SandboxMode = Literal["worktree", "off"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("worktree", "off")
# set inside the sandbox so a nested ``bash`` started by the command runs directly (it is already confined)
INSIDE_MARK = "HEARTH_SANDBOXED"
# git writes these under the common dir for a commit, a branch move or a stash; config and hooks stay read-only
GIT_SHARED_WRITABLE = ("objects", "refs", "logs")


@dataclass(frozen=True)
class GitLayout:
    """A linked worktree's own git dir (``<common>/worktrees/<name>``) and the repository's common dir."""

    gitdir: str
    commondir: str


@dataclass(frozen=True)
class SandboxPlan:
    """Everything one sandboxed command is decided from."""

    worktrees_root: str  # hearth's worktrees dir: only a worktree inside it is ever made writable
    cwd: str  # where the command starts
    worktree: str | None  # the chat's worktree holding cwd, None when cwd is in none (then nothing of it)
    git: GitLayout | None  # the worktree's git metadata, None when it has none
    writable: tuple[str, ...]  # the agent's own state dirs and its temp dir
    tmp_dir: str  # TMPDIR inside the sandbox; must be one of ``writable``
    share_net: bool = True  # False adds --unshare-net (loopback only, inside its own namespace)


@dataclass(frozen=True)
class SandboxRefusal:
    detail: str


def _clean(path: str) -> PurePosixPath | None:
    pure = PurePosixPath(path)
    if not pure.is_absolute() or ".." in pure.parts or str(pure) != path.rstrip("/") or path == "":
        return None
    return pure


def _inside(path: PurePosixPath, root: PurePosixPath) -> bool:
    return path == root or root in path.parents


def worktree_of(cwd: str, worktrees_root: str) -> str | None:
    """The chat worktree holding ``cwd``: hearth lays them out as ``<root>/<repo dir>/<worktree name>``."""
    here, root = _clean(cwd), _clean(worktrees_root)
    if here is None or root is None or not _inside(here, root):
        return None
    rest = here.relative_to(root).parts
    return str(root.joinpath(*rest[:2])) if len(rest) >= 2 else None


def git_writable(layout: GitLayout) -> tuple[str, ...]:
    common = PurePosixPath(layout.commondir)
    return (layout.gitdir, *(str(common / name) for name in GIT_SHARED_WRITABLE))


def writable_paths(plan: SandboxPlan) -> Result[tuple[str, ...], SandboxRefusal]:
    """The paths bound writable, or why the plan is refused. Checked laws: every path absolute and resolved;
    the worktree inside the worktrees root; the gitdir one of the common dir's worktrees; no writable path
    holding the user's checkout, the worktrees root, or ``/``."""
    root = _clean(plan.worktrees_root)
    if root is None or root == PurePosixPath("/"):
        return Failure(SandboxRefusal(f"worktrees root {plan.worktrees_root!r} is not an absolute resolved path"))
    paths: list[str] = []
    if plan.worktree is not None:
        tree = _clean(plan.worktree)
        if tree is None or tree == root or not _inside(tree, root):
            return Failure(SandboxRefusal(f"worktree {plan.worktree!r} is not inside {plan.worktrees_root}"))
        paths.append(str(tree))
    if plan.git is not None:
        if plan.worktree is None:
            return Failure(SandboxRefusal("git metadata given without a worktree"))
        gitdir, common = _clean(plan.git.gitdir), _clean(plan.git.commondir)
        if gitdir is None or common is None or gitdir.parent != common / "worktrees":
            return Failure(SandboxRefusal(f"{plan.git.gitdir!r} is not a linked worktree's git dir"))
        paths.extend(git_writable(plan.git))
    if plan.tmp_dir not in plan.writable:
        return Failure(SandboxRefusal(f"temp dir {plan.tmp_dir!r} is not among the writable dirs"))
    protected = [root]
    if plan.git is not None:
        protected.append(PurePosixPath(plan.git.commondir).parent)  # the user's checkout
    for extra in plan.writable:
        clean = _clean(extra)
        if clean is None:
            return Failure(SandboxRefusal(f"writable dir {extra!r} is not an absolute resolved path"))
        if any(_inside(kept, clean) for kept in protected):
            return Failure(SandboxRefusal(f"writable dir {extra!r} would hold the worktrees or the checkout"))
        paths.append(str(clean))
    return Success(tuple(dict.fromkeys(paths)))


def bwrap_argv(plan: SandboxPlan, bwrap: str, command: tuple[str, ...]) -> Result[list[str], SandboxRefusal]:
    """``bwrap`` with ``/`` read-only, the writable set bound on top, a private /dev, and ``command``."""
    cwd = _clean(plan.cwd)
    if cwd is None:
        return Failure(SandboxRefusal(f"working directory {plan.cwd!r} is not an absolute resolved path"))
    if not command:
        return Failure(SandboxRefusal("no command to run"))
    return writable_paths(plan).map(lambda paths: _argv(plan, bwrap, paths, command))


def _argv(plan: SandboxPlan, bwrap: str, paths: tuple[str, ...], command: tuple[str, ...]) -> list[str]:
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--die-with-parent"]
    for path in paths:
        argv += ["--bind-try", path, path]  # a git dir not made yet (logs) is skipped, not fatal
    if not plan.share_net:
        argv.append("--unshare-net")
    argv += ["--setenv", "TMPDIR", plan.tmp_dir, "--setenv", INSIDE_MARK, "1", "--chdir", plan.cwd, "--", *command]
    return argv
