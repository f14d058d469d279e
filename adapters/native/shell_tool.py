"""The native agent's ``bash`` tool: one command, run by bash inside the chat's sandbox (``core.sandbox``).

The command's stdout and stderr come back to the model as the tool result; a non-zero exit (a write the
sandbox refused reports ``Read-only file system``) makes the tool call fail visibly with that output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from returns.result import Failure

from adapters.native.tools import ToolError
from adapters.sandbox.layout import SandboxPolicy, bash_path, sandboxed_argv

SHELL_TIMEOUT_S = 120.0
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
    """Runs commands in ``root``; with ``policy`` None (sandbox "off") they run unconfined."""

    def __init__(self, root: Path, policy: SandboxPolicy | None) -> None:
        self.root = root
        self.policy = policy

    def __call__(self, args: dict[str, Any]) -> str:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        argv: list[str] = [bash_path(), "-c", command]
        if self.policy is not None:
            planned = sandboxed_argv(self.policy, str(self.root), tuple(argv))
            if isinstance(planned, Failure):
                raise ToolError(f"the sandbox refused the command: {planned.failure().detail}")
            argv = planned.unwrap()
        try:
            done = subprocess.run(
                argv, cwd=self.root, capture_output=True, text=True, errors="replace", timeout=SHELL_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"the command did not finish within {SHELL_TIMEOUT_S:.0f} s and was killed") from exc
        output = (done.stdout + done.stderr)[-MAX_OUTPUT_CHARS:] or "(no output)"
        if done.returncode != 0:
            raise ToolError(f"exit code {done.returncode}\n{output}")
        return output
