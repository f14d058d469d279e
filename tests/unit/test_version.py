"""One version: pyproject.toml, `hearth --version` and /api/health (through app.version) say the same."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.cli.main import main
from app.version import VERSION


def test_the_package_and_the_code_carry_the_same_version() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION


def test_hearth_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"hearth {VERSION}"
