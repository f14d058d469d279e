"""The console's browser tests need Debian's Chromium: missing, they skip locally and fail under CI=true."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.plugins import browser


def test_a_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(shutil, "which", lambda _: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install chromium.*CI=true"):
        browser.chromium_path()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser.chromium_path()
