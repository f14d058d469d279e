"""The native agent's ``bash`` tool: one command, run by bash inside the chat's sandbox (``core.sandbox``).

The command's stdout and stderr come back to the model as the tool result; a non-zero exit (a write the
sandbox refused reports ``Read-only file system``) makes the tool call fail visibly with that output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from returns.result import Failure, Result, Success

from adapters.native.tools import ToolError, Workspace
from adapters.sandbox.layout import SandboxPolicy, bash_path, sandboxed_argv
from adapters.sandbox.probe import checked
from adapters.sandbox.shim import agent_policy
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError
from core.ports.agents import BackendRuntime

SHELL_TIMEOUT_S = 120.0
KILL_WAIT_S = 5.0
MAX_OUTPUT_CHARS = 30_000
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "a bash command, run in the working directory"},
        "description": {"type": "string", "description": "what the command does, in a few words"},
    },
    "required": ["command"],
    "additionalProperties": False,
}
DESCRIPTION = "Run a bash command in the working directory (confined: only the working directory is writable)."


class ShellTool:
    """Runs commands in ``root``; with ``policy`` None (sandbox "off") they run unconfined. This object owns each
    command's process: a timeout or a cancelled turn kills its whole process group and reaps it."""

    def __init__(self, root: Path, policy: SandboxPolicy | None) -> None:
        self.root = root
        self.policy = policy

    def plan(self, args: dict[str, Any]) -> list[str]:
        """The argv to start (blocking: it resolves paths and reads the worktree's git files)."""
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        argv = (bash_path(), "-c", command)
        if self.policy is None:
            return list(argv)
        planned = sandboxed_argv(self.policy, str(self.root), argv)
        if isinstance(planned, Failure):
            raise ToolError(f"the sandbox refused the command: {planned.failure().detail}")
        return planned.unwrap()

    async def run(self, args: dict[str, Any]) -> str:
        argv = await asyncio.to_thread(self.plan, args)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), SHELL_TIMEOUT_S)
        except TimeoutError:
            await _kill(proc)
            raise ToolError(f"the command did not finish within {SHELL_TIMEOUT_S:.0f} s and was killed") from None
        except asyncio.CancelledError:
            await asyncio.shield(_kill(proc))
            raise
        output = out.decode(errors="replace")[-MAX_OUTPUT_CHARS:] or "(no output)"
        if proc.returncode != 0:
            raise ToolError(f"exit code {proc.returncode}\n{output}")
        return output


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), KILL_WAIT_S)


def tools_for(spec: AgentSpec, runtime: BackendRuntime, cwd: str) -> Result[tuple[Workspace, ShellTool], DomainError]:
    """The worktree's file tools and its ``bash``, confined by the sandbox unless the agent's policy is "off"
    (blocking: the sandbox probe runs a command)."""
    root = Path(cwd).resolve()
    if not root.is_dir():
        detail = f"native agent: working directory {cwd} does not exist; recreate the chat worktree"
        return Failure(AgentUnavailable(detail=detail, field="cwd"))
    policy = None
    if spec.sandbox == "worktree":
        probed = checked()
        if isinstance(probed, Failure):
            return Failure(probed.failure())
        policy = agent_policy(Path(runtime.agent_state_root) / spec.name, Path(runtime.worktrees_root))
    return Success((Workspace(root), ShellTool(root, policy)))
