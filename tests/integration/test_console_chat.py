"""The console in a real Chromium against a real hearth: a chat with opencode and native, its stream, the agent
chips, the diff panel (badges, "Changes from", the staging boundary) and an apply that lands in the checkout.

One test on purpose: every opencode start costs seconds, so the scenario shares one hearth and one chat.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.settings import Settings
from tests.plugins.browser import NARROW, screenshot
from tests.plugins.service import serve_hearth

pytestmark = [pytest.mark.agents, pytest.mark.browser]

STREAMING = """() => {
  const turn = [...document.querySelectorAll('.turn')].pop();
  return turn && turn.querySelector('.status').textContent === 'running' && turn.querySelector('.text')
    && /word\\d/.test(turn.querySelector('.text').textContent);
}"""


async def _send(page: Page, agent: str, prompt: str) -> None:
    await page.get_by_label("Agent").select_option(agent)
    await page.get_by_label("Prompt").fill(prompt)
    await page.get_by_label("Prompt").press("Control+Enter")


async def _wait_last_turn(page: Page, count: int, status: str = "succeeded") -> None:
    turns = page.locator("article.turn")
    await expect(turns).to_have_count(count)
    await expect(turns.nth(count - 1).locator("header .status")).to_have_text(status, timeout=90_000)


async def test_a_chat_with_two_agents_in_the_console(
    hearth_settings: Settings, git_repo: Path, opencode_agents_dir: Path, page: Page
) -> None:
    settings = hearth_settings.model_copy(update={"cache_dir": opencode_agents_dir.parent})
    async with serve_hearth(settings) as hearth:
        await page.goto(hearth.base_url + "/")
        await page.get_by_label("Repository path").fill("/no/such/repository")
        await page.get_by_role("button", name="Create chat").click()
        await expect(page.locator("#new-chat-error")).to_contain_text("outside the configured repository roots")

        await page.get_by_label("Repository path").fill(str(git_repo))
        await page.get_by_label("Title").fill("console flow")
        await page.get_by_role("button", name="Create chat").click()
        await expect(page.get_by_role("heading", name="console flow")).to_be_visible()
        await page.get_by_label("Agent").select_option("opencode")
        await expect(page.locator("#agent-chip")).to_have_text("new session")

        await _send(page, "opencode", "SLOW=0.2 tell me a long story")
        await page.wait_for_function(STREAMING, timeout=90_000)  # text arrives while the turn still runs
        await screenshot(page, "chat-streaming")
        await _wait_last_turn(page, 1)
        await expect(page.locator("article.turn .text")).to_have_text(" ".join(f"word{i}" for i in range(20)))
        await expect(page.locator("#agent-chip")).to_have_text("resumed session")

        await _send(page, "opencode", "WRITE one.txt from opencode")
        await _wait_last_turn(page, 2)
        await page.get_by_label("Agent").select_option("native")
        await expect(page.locator("#agent-chip")).to_have_text("history")  # the chip changes with the agent
        await _send(page, "native", 'TOOL write {"path": "two.txt", "content": "from native\\n"}')
        await _wait_last_turn(page, 3)
        await expect(page.locator("#agent-chip")).to_have_text("resumed session")

        panel = page.locator(".diff-panel")
        await expect(panel.locator('[data-path="one.txt"] .badge')).to_have_text("opencode")
        await expect(panel.locator('[data-path="two.txt"] .badge')).to_have_text("native")
        await expect(panel.locator(".contributors")).to_have_text("Changes from opencode, native")
        await expect(panel.locator('[data-path="two.txt"] .diff .add')).to_contain_text(["+from native"])
        await expect(panel.locator(".boundary")).to_contain_text("reach your checkout")
        await expect(panel.locator(".boundary")).to_contain_text("only when applied")
        await screenshot(page, "chat-with-diff-panel")

        await panel.get_by_role("button", name="Apply one.txt").click()
        await expect(panel.locator('[data-path="one.txt"]')).to_have_count(0)
        assert (git_repo / "one.txt").read_text() == "from opencode\n"
        await expect(panel.locator('[data-path="two.txt"]')).to_have_count(1)

        (git_repo / "two.txt").write_text("the user's own two\n")  # the checkout diverges from the base
        await page.reload()
        await expect(page.locator("article.turn")).to_have_count(3)  # replayed once, not doubled
        await expect(panel.locator(".boundary .notice")).to_contain_text("The checkout changed two.txt")
        await expect(page.locator("article.turn").first.locator(".text")).to_have_text(
            " ".join(f"word{i}" for i in range(20))
        )
        await page.set_viewport_size(NARROW)
        await screenshot(page, "chat-narrow")
