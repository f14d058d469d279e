"""Finding agent executables in hearth's npm cache (installing them lives here too)."""

from __future__ import annotations

import shutil
from pathlib import Path

from returns.result import Failure, Result, Success

from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError

# opencode-ai's bin is a postinstall hard link; the platform package holds the real binary either way.
_NATIVE_BINARIES = {"opencode": Path("node_modules/opencode-linux-x64/bin/opencode")}


def install_command(spec: AgentSpec) -> str:
    if spec.npm_package:
        return f"hearth agents install {spec.name}"
    return f"install {spec.command!r} and put it on PATH, or give its absolute path in the config file"


def resolve_command(spec: AgentSpec, agents_dir: Path) -> Result[Path, DomainError]:
    """The executable for ``spec``: absolute path, hearth's npm cache, then PATH; else how to install it."""
    command = spec.command
    if not command:
        return Failure(AgentUnavailable(detail=f"agent {spec.name!r} has no command", field="command"))
    if Path(command).is_absolute():
        found: Path | None = Path(command) if Path(command).is_file() else None
    else:
        native = _NATIVE_BINARIES.get(command)
        candidates = [agents_dir / native] if native else []
        candidates.append(agents_dir / "node_modules" / ".bin" / command)
        found = next((c for c in candidates if c.is_file()), None)
        if found is None and (on_path := shutil.which(command)):
            found = Path(on_path)
    if found is None:
        return Failure(
            AgentUnavailable(
                detail=f"agent {spec.name!r}: executable {command!r} not found in {agents_dir} or on PATH; "
                f"run: {install_command(spec)}",
                field="agent",
            )
        )
    return Success(found)
