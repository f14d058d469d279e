"""From a live directory to a ``core.sandbox.SandboxPlan``: resolve symlinks, find the worktree's git dirs.

This is the one place that touches the filesystem for the sandbox's decision; every path handed to the core
is ``realpath``-resolved first, so a symlink planted in the worktree is judged by where it really points.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from returns.result import Failure, Result, Success

from core.sandbox import GitLayout, SandboxPlan, SandboxRefusal, bwrap_argv, worktree_of

POLICY_VARIABLE = "HEARTH_SANDBOX"
PLANS_DIR = "plans"


@dataclass(frozen=True)
class SandboxPolicy:
    """What every command of one agent is confined by; travels to the sandbox shell as one JSON variable."""

    worktrees_root: str
    writable: tuple[str, ...]
    tmp_dir: str
    bwrap: str
    shim_dir: str  # where the ``bash``/``sh`` stand-ins live; dropped from PATH inside the sandbox
    share_net: bool = True

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> SandboxPolicy:
        data = json.loads(text)
        return cls(**{**data, "writable": tuple(data["writable"])})


def real(path: str | Path) -> str:
    return os.path.realpath(path)


def bash_path() -> str:
    return shutil.which("bash", path="/usr/bin:/bin") or "/bin/bash"


def real_shell(program: str) -> str:
    return "/bin/sh" if program == "sh" else bash_path()


def remember_plan(policy: SandboxPolicy, program: str, argv: list[str]) -> None:
    """Keep the bwrap argv made for a chat worktree (up to its ``--chdir``) as a file the stand-in sources, so
    the next command there starts without Python. Written atomically; skipped outside worktrees."""
    root, here = real(policy.worktrees_root), argv[argv.index("--chdir") + 1] if "--chdir" in argv else ""
    worktree = worktree_of(here, root) if here else None
    if worktree is None or not policy.bwrap:
        return
    repo, name = Path(worktree).relative_to(root).parts
    target = Path(policy.shim_dir, PLANS_DIR, repo, f"{name}.{program}")
    prefix = shlex.join(argv[: argv.index("--chdir")])
    text = f'set -- {prefix} --chdir "$here" -- {shlex.quote(real_shell(program))} "$@"\n'
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}")
    scratch.write_text(text)
    scratch.replace(target)


def git_layout(worktree: str) -> GitLayout | None:
    """A linked worktree's ``.git`` file names its git dir, whose ``commondir`` names the repository's."""
    marker = Path(worktree, ".git")
    try:
        text = marker.read_text() if marker.is_file() else ""
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(worktree, text.removeprefix("gitdir:").strip())
    try:
        common = (gitdir / "commondir").read_text().strip()
    except OSError:
        return None
    return GitLayout(gitdir=real(gitdir), commondir=real(gitdir / common))


def plan_for(policy: SandboxPolicy, cwd: str) -> SandboxPlan:
    here, root = real(cwd), real(policy.worktrees_root)
    worktree = worktree_of(here, root)
    return SandboxPlan(
        worktrees_root=root,
        cwd=here,
        worktree=worktree,
        git=git_layout(worktree) if worktree else None,
        writable=tuple(real(path) for path in policy.writable),
        tmp_dir=real(policy.tmp_dir),
        share_net=policy.share_net,
    )


def sandboxed_argv(policy: SandboxPolicy, cwd: str, command: tuple[str, ...]) -> Result[list[str], SandboxRefusal]:
    for path in (*policy.writable, policy.tmp_dir):
        Path(path).mkdir(parents=True, exist_ok=True)
    plan = plan_for(policy, cwd)
    if plan.tmp_dir not in plan.writable:
        return Failure(SandboxRefusal(f"temp dir {policy.tmp_dir} is not writable in the sandbox"))
    return bwrap_argv(plan, policy.bwrap, command) if policy.bwrap else Success(list(command))
