"""The console's chats list (what each chat holds at risk; close and delete spelled out, then forced) and its
agents and health page, in a real Chromium, readable at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect

from tests.plugins.browser import NARROW, screenshot
from tests.plugins.service import Hearth

pytestmark = [pytest.mark.agents, pytest.mark.browser]


async def test_the_chats_list_spells_out_the_risk_before_closing_and_deleting(
    hearth: Hearth, git_repo: Path, page: Page
) -> None:
    chat = (await hearth.create_chat(git_repo, title="at risk"))["id"]
    turn = await hearth.run_turn(chat, "native", "WRITE notes.txt kept in the worktree")
    assert turn["status"] == "succeeded", turn
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.goto(hearth.base_url + "/")
    row = page.locator(f'tr[data-chat="{chat}"]')
    await expect(row).to_contain_text("at risk")
    await expect(row.locator("td").nth(2)).to_have_text("native")  # agents used
    await expect(row.locator("td").nth(3)).to_have_text("native: succeeded")  # the last turn
    await expect(row.locator("td").nth(4)).to_have_text("1")  # pending changes
    await expect(row.locator("td").nth(5)).to_contain_text("1 pending change not yet applied")
    await screenshot(page, "chats-list")

    await row.get_by_role("button", name="Close").click()
    await expect(row.get_by_role("alert")).to_contain_text("closing would lose work")
    assert "This would lose work: 1 dirty file: notes.txt; 1 pending change not yet applied" in asked[-1]
    assert (await hearth.client.get(f"/api/chats/{chat}")).json()["status"] == "open"  # refused: nothing changed

    await row.get_by_label("force").check()
    await row.get_by_role("button", name="Close").click()
    row = page.locator(f'tr[data-chat="{chat}"]')
    await expect(row.locator(".status").first).to_have_text("closed")
    assert (await hearth.client.get(f"/api/chats/{chat}")).json()["status"] == "closed"

    await row.get_by_role("button", name="Delete").click()
    await expect(page.locator(f'tr[data-chat="{chat}"]')).to_have_count(0)
    assert (await hearth.client.get(f"/api/chats/{chat}")).status_code == 404
    await page.set_viewport_size(NARROW)
    await expect(page.get_by_label("Repository path")).to_be_visible()
    await screenshot(page, "chats-list-narrow")


async def test_the_agents_page_shows_each_agent_and_the_node_health(hearth: Hearth, git_repo: Path, page: Page) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "hello"))["status"] == "succeeded"
    await page.goto(hearth.base_url + "/#/agents")
    native = page.locator('tr[data-agent="native"]')
    await expect(native).to_contain_text("built in")
    await expect(native.locator("td").nth(2)).to_have_text("1")  # its live session
    await expect(page.locator('tr[data-agent="opencode"]')).to_be_visible()
    await expect(page.get_by_role("region", name="Health")).to_contain_text("Status: ok")
    await expect(page.get_by_role("region", name="Health")).to_contain_text("Store (sqlite): reachable")
    await screenshot(page, "agents-and-health")


async def test_the_diff_panel_colours_code_takes_a_manual_edit_and_discards(
    hearth: Hearth, git_repo: Path, page: Page
) -> None:
    chat = (await hearth.create_chat(git_repo, title="edits"))["id"]
    code = 'def greet():\\n    return \\"hi\\"  # a greeting\\n'
    write = await hearth.run_turn(chat, "native", f'TOOL write {{"path": "greet.py", "content": "{code}"}}')
    assert write["status"] == "succeeded", write
    worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
    await page.goto(f"{hearth.base_url}/#/chats/{chat}")
    row = page.locator('.diff-panel [data-path="greet.py"]')
    await expect(row.locator(".badge")).to_have_text("native")
    await expect(row.locator(".diff .add").first).to_have_text("+def greet():")
    await expect(row.locator(".diff .hl-kw").first).to_have_text("def")
    await expect(row.locator(".diff .hl-str")).to_have_text('"hi"')
    await expect(row.locator(".diff .hl-com")).to_have_text("# a greeting")

    await page.get_by_role("button", name="Edit greet.py").click()
    await expect(page.get_by_label("File (relative to the worktree)")).to_have_value("greet.py")
    await page.get_by_label("File (relative to the worktree)").fill("notes.md")
    await page.get_by_label("New content").fill("written by hand\n")
    await page.get_by_role("button", name="Save into the worktree").click()
    await expect(page.locator('.diff-panel [data-path="notes.md"] .badge')).to_have_text("manual edit")
    assert (worktree / "notes.md").read_text() == "written by hand\n"
    await screenshot(page, "diff-panel-edits")

    await page.get_by_role("button", name="Discard greet.py").click()
    await expect(row).to_have_count(0)
    assert not (worktree / "greet.py").exists()
    await page.get_by_role("button", name="Discard all").click()
    await expect(page.locator("#no-changes")).to_be_visible()
    assert not (worktree / "notes.md").exists()
