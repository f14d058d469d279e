"""A real browser for the console's tests: Playwright driving Debian's Chromium (no browser download).

``console_page`` opens a fresh headless Chromium (a fresh profile each time) with its network confined to what
the page asks for; ``screenshot(page, name)`` saves into ``tests/output/console/`` (ignored by git) so a human
can see what each test saw. A missing Chromium skips locally and fails under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.plugins.environment import unavailable

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "console"
# Without the background-networking flags Chromium keeps calling home, which a closed network answers slowly.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = ViewportSize(width=1280, height=900)
NARROW = ViewportSize(width=390, height=844)


def chromium_path() -> Path:
    found = CHROMIUM if CHROMIUM.exists() else (Path(p) if (p := shutil.which("chromium")) else None)
    if found is None:
        unavailable("Chromium is not installed: run `./dev test` (it installs it) or `sudo apt-get install chromium`")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=WIDE)
    opened = await context.new_page()
    opened.set_default_timeout(60_000)
    try:
        yield opened
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
