"""What every reliability trial shares: its figures, the scripted LLM, a repository, and hearth's settings."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from core.agents import ProviderConfig
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR
from tests.plugins.git_repos import make_repo
from tests.plugins.postgres import fresh_database
from tests.plugins.service import make_settings


@dataclass
class Trial:
    """One line of the report: how often it was tried and held, how long each try took, and what was lost."""

    name: str
    includes: str  # what one try does and what "held" and the time mean
    tried: int = 0
    held: int = 0
    times: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # what went wrong, one line each
    notes: list[str] = field(default_factory=list)  # extra figures
    not_run: str | None = None

    def record(self, problems: list[str], seconds: float | None) -> None:
        self.tried += 1
        self.held += not problems
        self.lost.extend(problems)
        if seconds is not None:
            self.times.append(seconds)

    def time_range(self) -> str:
        if not self.times:
            return "-"
        values = (min(self.times), statistics.median(self.times), max(self.times))
        return " / ".join(f"{value:.2f}" for value in values) + " s"


@dataclass
class Context:
    """One scripted LLM and one git repository for the whole run; each trial gets a directory of its own."""

    llm: ScriptedLLM
    root: Path
    repo: Path
    agents_dir: Path = AGENTS_DIR
    _dirs: int = 0

    @classmethod
    def create(cls, llm: ScriptedLLM, root: Path) -> Context:
        (root / "repos").mkdir(parents=True)
        return cls(llm, root, make_repo(root / "repos" / "project"))

    @property
    def provider(self) -> ProviderConfig:
        return ProviderConfig(
            openai_base_url=self.llm.openai_base_url,
            openai_api_key="trial",
            openai_model="fake-model",
            anthropic_base_url=self.llm.anthropic_base_url,
            anthropic_api_key="trial",
            gemini_base_url=self.llm.gemini_base_url,
            gemini_api_key="trial",
        )

    def directory(self, label: str) -> Path:
        self._dirs += 1
        path = self.root / f"{self._dirs:02d}-{label}"
        path.mkdir()
        return path

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        return make_settings(data_dir, self.repo.parent, self.provider, cache_dir=self.agents_dir.parent, **overrides)

    def recalled(self, since: int, word: str) -> bool:
        """The LLM saw ``word`` as an earlier user message of the session in a request after ``since``."""
        return any(word in entry["reply"]["text"] for entry in self.llm.log()[since:])


def clock() -> float:
    return time.perf_counter()


def why_not_run(error: BaseException) -> str | None:
    """The reason a trial could not run (an agent or PostgreSQL missing: the test plugins' skip, or their failure
    under CI=true), else None."""
    if isinstance(error, pytest.skip.Exception | pytest.fail.Exception):
        return str(error.msg)
    return None


@contextlib.asynccontextmanager
async def database(store: str) -> AsyncIterator[str | None]:
    """``HEARTH_DATABASE_URL`` of a fresh PostgreSQL database (dropped afterwards), or None for SQLite."""
    if store == "sqlite":
        yield None
        return
    async with fresh_database() as dsn:
        yield dsn
