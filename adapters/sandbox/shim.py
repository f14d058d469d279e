"""Pointing an agent that runs shell commands itself at the sandboxed shell.

Agents start their commands with a shell they find by name on PATH (qwen and gemini spawn ``bash``) or by
SHELL (OpenCode, Claude Code). hearth writes two stand-ins, ``bash`` and ``sh``, next to (not inside) the
agent's state dir, puts their dir first on the agent's PATH and names it in SHELL. A stand-in sources the plan
kept for the chat's worktree when there is one, else re-executes ``adapters.sandbox.shell`` with this Python,
which plans with ``core.sandbox``, keeps the plan and confines the command with bubblewrap.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from returns.result import Failure, Result, Success

from adapters.sandbox.layout import PLANS_DIR, POLICY_VARIABLE, SandboxPolicy, real, real_shell
from adapters.sandbox.probe import bwrap_path, checked
from core.agents import AgentSpec
from core.errors import DomainError

SHIM_NAMES = ("bash", "sh")


# The stand-in's fast path: a chat worktree whose plan the Python sandbox shell already made (a file it wrote
# under plans/, read-only to commands) is entered without starting Python: the plan ``set``s the bwrap argv.
_STAND_IN = """#!/bin/sh
# hearth's sandboxed {name} (adapters/sandbox/shim.py; ADR 0009): never runs a command unconfined
if [ "${{HEARTH_SANDBOXED:-}}" = 1 ]; then exec {real} "$@"; fi
root={root}
if cd -P . 2>/dev/null; then
  case $PWD in
    "$root"/*/*)
      rest=${{PWD#"$root"/}}; repo=${{rest%%/*}}; rest=${{rest#*/}}; name=${{rest%%/*}}
      plan={plans}/$repo/$name.{name}
      if [ -f "$plan" ]; then
        here=$PWD
        unset HEARTH_SANDBOX
        PATH={inner_path}; SHELL={real}; export PATH SHELL
        . "$plan"
        exec "$@"
      fi;;
  esac
fi
exec {python} -I -m adapters.sandbox.shell {name} "$@"
"""


def write_shims(policy: SandboxPolicy, inner_path: str) -> None:
    """The stand-ins, and no plans yet: plans are made again by the first command in each worktree."""
    shim_dir = Path(policy.shim_dir)
    shutil.rmtree(shim_dir / PLANS_DIR, ignore_errors=True)
    shim_dir.mkdir(parents=True, exist_ok=True)
    for name in SHIM_NAMES:
        path = shim_dir / name
        text = _STAND_IN.format(
            name=name,
            real=shlex.quote(real_shell(name)),
            root=shlex.quote(real(policy.worktrees_root)),
            plans=shlex.quote(str(shim_dir / PLANS_DIR)),
            inner_path=shlex.quote(inner_path),
            python=shlex.quote(sys.executable),
        )
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
    write_shims(policy, path)
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
