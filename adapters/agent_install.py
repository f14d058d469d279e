"""Finding agent executables in hearth's npm cache, installing the pinned packages, and checking both."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from returns.result import Failure, Result, Success

from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError

# opencode-ai's bin is a postinstall hard link; the platform package holds the real binary either way.
_NATIVE_BINARIES = {"opencode": Path("node_modules/opencode-linux-x64/bin/opencode")}
NODE_HINT = "install Node.js 20 or newer (it brings npm): https://nodejs.org/ or `apt-get install nodejs npm`"
NPM_TIMEOUT_S = 900.0
TAIL_LINES = 20


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


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str

    @classmethod
    def parse(cls, pinned: str) -> NpmPackage:
        """``"@scope/name@1.2.3"`` -> name and version (the version is after the last ``@`` past the scope)."""
        name, at, version = pinned.rpartition("@")
        if not at or not name:
            raise ValueError(f"npm package {pinned!r} is not pinned as name@version")
        return cls(name, version)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def packages_for(specs: Iterable[AgentSpec]) -> list[NpmPackage]:
    """Each pinned package once (opencode and opencode-acp share one), in catalogue order."""
    unique = {spec.npm_package: None for spec in specs if spec.npm_package}
    return [NpmPackage.parse(pinned) for pinned in unique]


def installed_version(agents_dir: Path, package: str) -> str | None:
    manifest = agents_dir / "node_modules" / package / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def install_packages(
    packages: Iterable[NpmPackage],
    agents_dir: Path,
    *,
    say: Callable[[str], None] = print,
    npm: str | None = None,
    timeout_s: float = NPM_TIMEOUT_S,
) -> Result[int, AgentUnavailable]:
    """npm-install every package not already at its pinned version; Success(number installed)."""
    wanted = list(packages)
    missing = [p for p in wanted if installed_version(agents_dir, p.name) != p.version]
    for package in wanted:
        if package not in missing:
            say(f"{package.name}: already installed at {package.version}")
    if not missing:
        return Success(0)
    npm_path = npm or shutil.which("npm")
    if npm_path is None or (npm is None and shutil.which("node") is None):
        return Failure(AgentUnavailable(detail=f"npm/node not found on PATH; {NODE_HINT}", field="npm"))
    agents_dir.mkdir(parents=True, exist_ok=True)
    for package in missing:
        say(f"{package.name}: installing {package.version} into {agents_dir} ...")
        started = time.monotonic()
        argv = [npm_path, "install", "--prefix", str(agents_dir), "--no-audit", "--no-fund", "--save-exact"]
        failure = _run_npm([*argv, str(package)], timeout_s)
        if failure is not None:
            return Failure(AgentUnavailable(detail=f"{package}: {failure}", field="npm"))
        if (found := installed_version(agents_dir, package.name)) != package.version:
            detail = (
                f"{package}: npm succeeded but node_modules has {found or 'nothing'}; delete {agents_dir} and retry"
            )
            return Failure(AgentUnavailable(detail=detail, field="npm"))
        say(f"{package.name}: done in {time.monotonic() - started:.1f} s")
    return Success(len(missing))


def _run_npm(argv: list[str], timeout_s: float) -> str | None:
    """None on success, else what went wrong with the last lines npm printed."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"npm install did not finish within {timeout_s:.0f} s; check the network or the npm registry"
    except OSError as exc:
        return f"could not run {argv[0]}: {exc}; {NODE_HINT}"
    if done.returncode == 0:
        return None
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:])
    return f"npm install exited with code {done.returncode}; last lines:\n{tail}"


@dataclass(frozen=True)
class AgentCheck:
    """One line of ``hearth doctor``."""

    name: str
    ok: bool
    version: str
    path: str
    fix: str | None = None


def check_agents(specs: Iterable[AgentSpec], agents_dir: Path) -> list[AgentCheck]:
    specs = list(specs)
    checks = []
    if any(spec.npm_package for spec in specs):
        node = shutil.which("node")
        checks.append(AgentCheck("node", node is not None, "-", node or "not found", None if node else NODE_HINT))
    for spec in specs:
        checks.append(_check(spec, agents_dir))
    return checks


def _check(spec: AgentSpec, agents_dir: Path) -> AgentCheck:
    if not spec.command:
        return AgentCheck(spec.name, True, "built in", "(in process)")
    resolved = resolve_command(spec, agents_dir)
    path = str(resolved.unwrap()) if isinstance(resolved, Success) else "not found"
    if not spec.npm_package:
        fix = None if isinstance(resolved, Success) else install_command(spec)
        return AgentCheck(spec.name, fix is None, "-", path, fix)
    package = NpmPackage.parse(spec.npm_package)
    version = installed_version(agents_dir, package.name)
    if isinstance(resolved, Success) and version == package.version:
        return AgentCheck(spec.name, True, version, path)
    found = f"{version} (pinned {package.version})" if version else "missing"
    return AgentCheck(spec.name, False, found, path, install_command(spec))
