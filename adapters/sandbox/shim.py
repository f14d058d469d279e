"""Pointing an agent that runs shell commands itself at the sandboxed shell.

Agents start their commands with a shell they find by name on PATH (qwen and gemini spawn ``bash``) or by
SHELL (OpenCode, Claude Code). hearth writes two stand-ins, ``bash`` and ``sh``, into the agent's state dir,
puts that dir first on the agent's PATH and names it in SHELL; each stand-in re-executes ``adapters.sandbox.
shell`` with this Python, which confines the command with bubblewrap (see ``core.sandbox``).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from returns.result import Failure, Result, Success

from adapters.sandbox.layout import POLICY_VARIABLE, SandboxPolicy
from adapters.sandbox.probe import bwrap_path, checked
from core.agents import AgentSpec
from core.errors import DomainError

SHIM_NAMES = ("bash", "sh")


def write_shims(shim_dir: Path) -> None:
    shim_dir.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    for name in SHIM_NAMES:
        path = shim_dir / name
        text = f'#!/bin/sh\nexec {python} -I -m adapters.sandbox.shell {name} "$@"\n'
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        path.chmod(0o755)


def agent_policy(state_root: Path, worktrees_root: Path, share_net: bool = True) -> SandboxPolicy:
    """An agent's commands may write its worktree, its own state tree (HOME, caches) and its temp dir. The
    stand-ins live outside that tree, read-only to the commands, which therefore cannot rewrite them."""
    tmp = state_root / "tmp"
    shim = state_root.parent / ".sandbox-bin" / state_root.name
    for path in (state_root, tmp):
        path.mkdir(parents=True, exist_ok=True)
    return SandboxPolicy(
        worktrees_root=str(worktrees_root),
        writable=(str(state_root), str(tmp)),
        tmp_dir=str(tmp),
        bwrap=bwrap_path() or "bwrap",
        shim_dir=str(shim),
        share_net=share_net,
    )


def sandbox_env(policy: SandboxPolicy, path: str) -> dict[str, str]:
    """The variables that make the agent's shell commands run in the sandbox (merged over its env)."""
    shim = Path(policy.shim_dir)
    write_shims(shim)
    return {
        "PATH": os.pathsep.join([str(shim), path]),
        "SHELL": str(shim / "bash"),
        "TMPDIR": policy.tmp_dir,
        POLICY_VARIABLE: policy.to_env(),
    }


def confined_env(
    spec: AgentSpec, state_root: Path, worktrees_root: str, env: dict[str, str]
) -> Result[dict[str, str], DomainError]:
    """``env`` for an agent process whose shell commands run in the sandbox; unchanged for ``sandbox="off"``.
    A sandboxed agent on a machine where the sandbox does not work is refused, never run unconfined."""
    if spec.sandbox == "off":
        return Success(env)
    probed = checked()
    if isinstance(probed, Failure):
        return Failure(probed.failure())
    policy = agent_policy(Path(state_root), Path(worktrees_root))
    return Success({**env, **sandbox_env(policy, env.get("PATH", os.defpath))})
