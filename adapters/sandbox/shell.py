"""The sandboxed shell: agents that run commands themselves start it as ``bash``/``sh`` (first on their PATH,
and their SHELL), and it re-executes the real bash inside bubblewrap with the chat's worktree writable.

It never runs a command unconfined: without a policy, or when the plan is refused, it exits 126 with the
reason on stderr, which the agent shows as the tool's output. Inside the sandbox (``HEARTH_SANDBOXED``) a
nested ``bash`` runs the real one directly: it is already confined.
"""

from __future__ import annotations

import contextlib
import os
import sys

from returns.result import Failure

from adapters.sandbox.layout import POLICY_VARIABLE, SandboxPolicy, real_shell, remember_plan, sandboxed_argv
from core.sandbox import INSIDE_MARK

REFUSED_EXIT = 126


def _refuse(reason: str) -> int:
    sys.stderr.write(f"hearth sandbox: refused to run the command: {reason}\n")
    return REFUSED_EXIT


def _replace_with(command: list[str], env: dict[str, str]) -> int:
    try:
        os.execve(command[0], command, env)  # noqa: S606 (bwrap, with the command after --)
    except OSError as exc:  # bubblewrap vanished since the agent started: refuse, never run unconfined
        return _refuse(f"cannot start {command[0]}: {exc}; install bubblewrap (`apt-get install bubblewrap`)")


def main(argv: list[str] | None = None) -> int:  # returns only to refuse: success replaces the process
    """``argv``: the shell name the agent called (``bash`` or ``sh``), then that shell's own arguments."""
    program, *args = sys.argv[1:] if argv is None else argv
    shell = real_shell(program)
    if os.environ.get(INSIDE_MARK) == "1":
        os.execv(shell, [shell, *args])  # noqa: S606 (already inside the sandbox)
    text = os.environ.get(POLICY_VARIABLE)
    if not text:
        return _refuse(f"{POLICY_VARIABLE} is not set; this shell only runs commands for hearth's agents")
    try:
        policy = SandboxPolicy.from_env(text)
        cwd = os.getcwd()
    except (ValueError, TypeError, KeyError, OSError) as exc:
        return _refuse(f"bad sandbox policy: {exc}")
    planned = sandboxed_argv(policy, cwd, (shell, *args))
    if isinstance(planned, Failure):
        return _refuse(planned.failure().detail)
    command = planned.unwrap()
    with contextlib.suppress(OSError):  # only a cache: a command still runs when it cannot be written
        remember_plan(policy, program, command)
    env = {key: value for key, value in os.environ.items() if key != POLICY_VARIABLE}
    shim = policy.shim_dir
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != shim)
    env["SHELL"] = shell
    return _replace_with(command, env)


if __name__ == "__main__":
    sys.exit(main())
