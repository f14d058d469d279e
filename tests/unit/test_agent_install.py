"""The agent installer and doctor, with a stand-in npm script (the real one would need the network)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from returns.result import Failure, Success

from adapters.agent_install import (
    NpmPackage,
    check_agents,
    install_packages,
    installed_version,
    packages_for,
)
from app.cli.main import main
from core.agents import BUILTIN_AGENTS, AgentSpec
from core.model import BackendKind

QWEN = NpmPackage("@qwen-code/qwen-code", "0.15.10")


def fake_npm(tmp_path: Path, body: str) -> str:
    """An executable standing in for npm: records its argv, then runs ``body`` (sh)."""
    script = tmp_path / "npm"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/npm.calls\n{body}\n')
    script.chmod(0o755)
    return str(script)


def npm_that_installs(tmp_path: Path) -> str:
    # the last argument is name@version; write the manifest npm would have written
    return fake_npm(
        tmp_path,
        'for spec in "$@"; do :; done\n'
        'name="${spec%@*}"; version="${spec##*@}"\n'
        'prefix="$3"\n'
        'mkdir -p "$prefix/node_modules/$name"\n'
        'printf \'{"name": "%s", "version": "%s"}\' "$name" "$version" > "$prefix/node_modules/$name/package.json"',
    )


def put_manifest(agents_dir: Path, package: NpmPackage) -> None:
    folder = agents_dir / "node_modules" / package.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": package.name, "version": package.version}))


def test_pinned_packages_parse_with_and_without_scope() -> None:
    assert NpmPackage.parse("@qwen-code/qwen-code@0.15.10") == QWEN
    assert NpmPackage.parse("opencode-ai@1.18.33") == NpmPackage("opencode-ai", "1.18.33")
    assert str(QWEN) == "@qwen-code/qwen-code@0.15.10"
    with pytest.raises(ValueError, match="not pinned"):
        NpmPackage.parse("opencode-ai")


def test_each_builtin_package_is_listed_once() -> None:
    names = [p.name for p in packages_for(BUILTIN_AGENTS)]
    assert names == ["opencode-ai", "@qwen-code/qwen-code", "@zed-industries/claude-code-acp", "@google/gemini-cli"]


def test_already_installed_packages_are_skipped_without_running_npm(tmp_path: Path) -> None:
    agents_dir = tmp_path / "agents"
    put_manifest(agents_dir, QWEN)
    lines: list[str] = []

    result = install_packages([QWEN], agents_dir, say=lines.append, npm=fake_npm(tmp_path, "exit 99"))

    assert result == Success(0)
    assert lines == ["@qwen-code/qwen-code: already installed at 0.15.10"]
    assert not (tmp_path / "npm.calls").exists()


def test_missing_or_outdated_packages_are_installed_with_progress(tmp_path: Path) -> None:
    agents_dir = tmp_path / "agents"
    put_manifest(agents_dir, NpmPackage(QWEN.name, "0.1.0"))  # outdated
    opencode = NpmPackage("opencode-ai", "1.18.33")
    lines: list[str] = []

    result = install_packages([QWEN, opencode], agents_dir, say=lines.append, npm=npm_that_installs(tmp_path))

    assert result == Success(2)
    assert installed_version(agents_dir, QWEN.name) == "0.15.10"
    assert installed_version(agents_dir, "opencode-ai") == "1.18.33"
    calls = (tmp_path / "npm.calls").read_text().splitlines()
    assert calls == [
        f"install --prefix {agents_dir} --no-audit --no-fund --save-exact {QWEN}",
        f"install --prefix {agents_dir} --no-audit --no-fund --save-exact {opencode}",
    ]
    assert lines[0] == f"@qwen-code/qwen-code: installing 0.15.10 into {agents_dir} ..."
    assert lines[1].startswith("@qwen-code/qwen-code: done in ")
    assert lines[1].endswith(" s")


def test_failing_npm_reports_exit_code_and_last_lines(tmp_path: Path) -> None:
    npm = fake_npm(
        tmp_path, "i=0; while [ $i -lt 30 ]; do echo line$i; i=$((i+1)); done; echo 'E404 not found' >&2; exit 7"
    )

    result = install_packages([QWEN], tmp_path / "agents", say=lambda _: None, npm=npm)

    assert isinstance(result, Failure)
    detail = result.failure().detail
    assert "@qwen-code/qwen-code@0.15.10: npm install exited with code 7" in detail
    assert "E404 not found" in detail
    assert "line29" in detail
    assert "line5\n" not in detail  # only the tail


def test_npm_that_installs_nothing_is_a_failure(tmp_path: Path) -> None:
    result = install_packages([QWEN], tmp_path / "agents", say=lambda _: None, npm=fake_npm(tmp_path, "exit 0"))

    assert isinstance(result, Failure)
    assert "node_modules has nothing" in result.failure().detail


def test_missing_npm_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    result = install_packages([QWEN], tmp_path / "agents", say=lambda _: None)

    assert isinstance(result, Failure)
    assert "npm/node not found on PATH" in result.failure().detail
    assert "Node.js" in result.failure().detail


def test_doctor_checks_name_version_path_and_fix(tmp_path: Path) -> None:
    agents_dir = tmp_path / "agents"
    put_manifest(agents_dir, QWEN)
    binary = agents_dir / "node_modules" / ".bin" / "qwen"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    custom = AgentSpec(name="custom", backend=BackendKind.WARM_ACP, command="/nonexistent/agent-bin")
    specs = [s for s in BUILTIN_AGENTS if s.name in ("qwen", "gemini", "native")] + [custom]

    checks = {check.name: check for check in check_agents(specs, agents_dir)}

    assert checks["qwen"].ok
    assert (checks["qwen"].version, checks["qwen"].path) == ("0.15.10", str(binary))
    assert not checks["gemini"].ok
    assert checks["gemini"].fix == "hearth agents install gemini"
    assert checks["native"].ok
    assert not checks["custom"].ok
    assert checks["custom"].fix is not None
    assert "PATH" in checks["custom"].fix


def test_cli_install_is_instant_when_everything_is_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path))
    for package in packages_for(BUILTIN_AGENTS):
        put_manifest(tmp_path / "agents", package)

    assert main(["agents", "install"]) == 0
    out = capsys.readouterr().out
    assert out.count("already installed") == 4
    assert main(["agents", "install", "nope"]) == 2
    assert "unknown agent(s) nope" in capsys.readouterr().err


def test_cli_doctor_exits_non_zero_and_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", os.environ.get("PATH", "") + os.pathsep + str(tmp_path))

    assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    assert "fix: hearth agents install qwen" in captured.out
    assert "missing:" in captured.err


def test_cli_list_shows_backend_package_and_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path))

    assert main(["agents", "list"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["qwen"] == ["warm-acp", "@qwen-code/qwen-code@0.15.10", "not", "installed"]
    assert rows["native"] == ["native", "built", "in", "ready"]
