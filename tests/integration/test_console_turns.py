"""The console's turn controls in a real Chromium: cancel a slow turn, reload mid-turn and see the stream go on
without duplicates, answer an `ask` agent's permission question, and a token the console asks for once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.browser import screenshot
from tests.plugins.service import Hearth, serve_hearth

pytestmark = [pytest.mark.agents, pytest.mark.browser]

WORDS = " ".join(f"word{i}" for i in range(20))
QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
ASK_CONFIG = """
[[agents]]
name = "qwen-ask"
backend = "warm-acp"
command = "qwen"
args = ["--acp"]
permission = "ask"
env = { QWEN_CODE_NO_RELAUNCH = "1" }
"""


async def _open_chat(page: Page, hearth: Hearth, repo: Path) -> str:
    chat: str = (await hearth.create_chat(repo, title="turns"))["id"]
    await page.goto(f"{hearth.base_url}/#/chats/{chat}")
    await expect(page.get_by_role("heading", name="turns")).to_be_visible()
    return chat


async def _send(page: Page, agent: str, prompt: str) -> None:
    await page.get_by_label("Agent").select_option(agent)
    await page.get_by_label("Prompt").fill(prompt)
    await page.get_by_role("button", name="Send").click()


async def test_cancel_a_slow_turn_and_reload_mid_turn(hearth: Hearth, git_repo: Path, page: Page) -> None:
    chat = await _open_chat(page, hearth, git_repo)
    turns = page.locator("article.turn")

    await _send(page, "native", "SLOW=0.3 a long answer")
    await expect(turns.first.locator(".text")).to_contain_text("word1", timeout=60_000)
    await page.reload()  # mid-turn: the page rebuilds the turn from the journal and follows the rest live
    await expect(turns).to_have_count(1)
    await expect(turns.first.locator("header .status")).to_have_text("running")
    await expect(turns.first.locator("header .status")).to_have_text("succeeded", timeout=60_000)
    await expect(turns.first.locator(".text")).to_have_text(WORDS)  # every word once: no loss, no duplicate
    await screenshot(page, "reload-mid-turn")

    await _send(page, "native", "SLOW=2 a very long answer")
    await expect(turns.nth(1).locator("header .status")).to_have_text("running", timeout=60_000)
    await page.get_by_role("button", name="Cancel turn").click()
    await expect(turns.nth(1).locator("header .status")).to_have_text("cancelled", timeout=60_000)
    await expect(turns.nth(1)).to_contain_text("Cancelled")
    await expect(page.get_by_role("button", name="Cancel turn")).to_be_hidden()
    await screenshot(page, "cancelled-turn")
    listed = (await hearth.client.get(f"/api/chats/{chat}/turns")).json()
    assert [t["status"] for t in listed] == ["succeeded", "cancelled"]


async def test_a_permission_question_is_answered_in_the_console(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path, page: Page
) -> None:
    require_agent(QWEN)
    config = tmp_path / "agents.toml"
    config.write_text(ASK_CONFIG)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent, "config_file": config})
    async with serve_hearth(settings) as hearth:
        chat = await _open_chat(page, hearth, git_repo)
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        await _send(page, "qwen-ask", f"WRITE {worktree / 'asked.txt'} written after asking")
        question = page.locator(".permission")
        await expect(question).to_contain_text("The agent asks", timeout=90_000)
        assert not (worktree / "asked.txt").exists()  # the write waits for the answer
        await screenshot(page, "permission-question")
        await question.get_by_role("button", name="Allow").first.click()
        await expect(page.locator("article.turn header .status")).to_have_text("succeeded", timeout=90_000)
        await expect(question).to_contain_text("Answered: allow")
        assert (worktree / "asked.txt").exists()
        await expect(page.locator('.diff-panel [data-path="asked.txt"] .badge')).to_have_text("qwen-ask")


async def test_the_console_asks_for_the_token_once_and_refuses_a_wrong_one(
    hearth_settings: Settings, page: Page
) -> None:
    async with serve_hearth(hearth_settings.model_copy(update={"api_token": "the-right-token"})) as hearth:
        await page.goto(hearth.base_url + "/")
        await expect(page.get_by_label("API token")).to_be_visible()
        for path in ("/api/chats", "/console/static/js/main.js", "/console/static/index.html"):
            assert (await page.request.get(hearth.base_url + path)).status == 401, path  # only the form is served

        await page.get_by_label("API token").fill("a-wrong-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("alert")).to_contain_text("not hearth's token")
        assert (await page.request.get(hearth.base_url + "/api/chats")).status == 401
        await screenshot(page, "wrong-token")

        await page.get_by_label("API token").fill("the-right-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Chats")).to_be_visible()
        assert (await page.request.get(hearth.base_url + "/api/chats")).status == 200
        await page.reload()  # kept for the session: not asked again
        await expect(page.get_by_role("heading", name="Chats")).to_be_visible()

        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_label("API token")).to_be_visible()
