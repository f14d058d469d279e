"""Does the sandbox work on this machine? Find bubblewrap and prove it confines a write, or say what to do."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from returns.result import Failure, Result, Success

from core.errors import AgentUnavailable, DomainError

INSTALL_HINT = "install bubblewrap (`apt-get install bubblewrap`)"
USERNS_HINT = (
    "bubblewrap could not create its namespaces: run hearth as root, or enable unprivileged user namespaces "
    "(`sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)"
)
PROBE_TIMEOUT_S = 20.0


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def probe() -> Result[str, str]:
    """Success: the bubblewrap path, after a write outside an allowed dir was refused and one inside worked.
    Failure: what went wrong and what to install or enable."""
    bwrap = bwrap_path()
    if bwrap is None:
        return Failure(f"bubblewrap (bwrap) is not on PATH; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="hearth-sandbox-probe-") as scratch:
        inside, outside = Path(scratch, "inside"), Path(scratch, "outside")
        inside.mkdir()
        script = f"touch {inside}/ok && ! touch {outside} 2>/dev/null"
        argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(inside), str(inside)]
        try:
            done = subprocess.run(
                [*argv, "--", "/bin/sh", "-c", script], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Failure(f"{bwrap} could not run: {exc}; {INSTALL_HINT}")
        if done.returncode != 0 and not (inside / "ok").exists():
            tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or "(no output)"
            return Failure(f"{bwrap} failed (exit code {done.returncode}): {tail}; {USERNS_HINT}")
        if outside.exists() or done.returncode != 0:
            return Failure(f"{bwrap} ran but did not make / read-only (a probe write escaped); {INSTALL_HINT}")
    return Success(bwrap)


def checked() -> Result[str, DomainError]:
    """The probe as a domain error: a sandboxed agent needs it to pass, else it does not start (run at each
    spawn of an agent, which is rare, so a sandbox that stops working is noticed)."""
    found = probe()
    if isinstance(found, Failure):
        detail = f"the agent's sandbox does not work on this machine: {found.failure()}"
        return Failure(AgentUnavailable(detail=detail, field="sandbox"))
    return Success(found.unwrap())
