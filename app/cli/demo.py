"""``hearth demo``: an offline scripted end-to-end run, nothing leaves 127.0.0.1.

Starts the scripted LLM and hearth in this process with a temporary data dir and repository, then: two warm
turns, a switch round trip opencode -> native -> opencode (native only, said plainly, when opencode is not
installed), the composer chip at each step, the pending changes with their agents, and the warm/cold speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pygit2
from returns.pipeline import is_successful

from adapters.agent_install import install_command, resolve_command
from app.cli.chat import Renderer, stream_turn
from app.inprocess import serve_in_process
from app.settings import Settings
from core.agents import ProviderConfig
from scripted_llm.llm import ScriptedLLM


def _make_repo(path: Path) -> None:
    repo = pygit2.init_repository(str(path), initial_head="main")
    (path / "README.md").write_text("# demo\n")
    repo.index.add_all()
    repo.index.write()
    signature = pygit2.Signature("hearth demo", "demo@hearth.invalid")
    repo.create_commit("HEAD", signature, signature, "initial", repo.index.write_tree(), [])


async def _turn(client: httpx.AsyncClient, chat: str, agent: str, prompt: str, renderer: Renderer) -> float:
    print(f"\n>>> {agent}: {prompt}")
    started = time.monotonic()
    response = await client.post(f"/api/chats/{chat}/turns", json={"agent": agent, "prompt": prompt})
    response.raise_for_status()
    outcome = await stream_turn(client, response.json()["events_url"], renderer)
    elapsed = time.monotonic() - started
    print(f"    ({outcome}, {elapsed:.2f} s)")
    return elapsed


async def _chips(client: httpx.AsyncClient, chat: str, agents: list[str]) -> None:
    chips = (await client.get(f"/api/chats/{chat}/agent-sessions")).json()["chips"]
    print("    composer chips: " + ", ".join(f"{a}={chips[a]}" for a in agents))


async def run_demo(keep: bool, native_only: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-demo-"))
    repo = workdir / "repos" / "demo"
    repo.mkdir(parents=True)
    _make_repo(repo)
    with ScriptedLLM() as llm:
        provider = ProviderConfig(
            openai_base_url=llm.openai_base_url,
            openai_api_key="demo",
            openai_model="fake-model",
            anthropic_base_url=llm.anthropic_base_url,
            anthropic_api_key="demo",
            gemini_base_url=llm.gemini_base_url,
            gemini_api_key="demo",
        )
        settings = Settings(
            data_dir=workdir / "data",
            repo_roots=[workdir / "repos"],
            provider=provider,
            database_url=None,
            host="127.0.0.1",
            api_token=None,
        )
        opencode = settings.agents()["opencode"]
        found = resolve_command(opencode, settings.agents_dir)
        main_agent = "opencode" if is_successful(found) and not native_only else "native"
        if main_agent == "native" and not native_only:
            print(f"hearth demo: opencode is not installed ({install_command(opencode)}); running native only")
        print(f"hearth demo: scripted LLM at {llm.base_url}, data in {workdir}")
        async with (
            serve_in_process(settings) as served,
            httpx.AsyncClient(base_url=served.base_url, timeout=httpx.Timeout(120.0)) as client,
        ):
            renderer = Renderer()
            chat = (await client.post("/api/chats", json={"repo_path": str(repo), "title": "demo"})).json()["id"]
            agents = sorted({main_agent, "native"})
            await _chips(client, chat, agents)
            cold = await _turn(client, chat, main_agent, "THINK please WRITE hello.txt Hello from turn one", renderer)
            warm = await _turn(client, chat, main_agent, "RECALL what did I ask you?", renderer)
            await _chips(client, chat, agents)
            await _turn(client, chat, "native", "WRITE notes.md Notes from the native agent", renderer)
            await _chips(client, chat, agents)
            back = await _turn(client, chat, main_agent, "RECALL", renderer)
            await _chips(client, chat, agents)
            changes = (await client.get(f"/api/chats/{chat}/changes")).json()
            print("\npending changes:")
            for change in changes["changes"]:
                print(f"    {change['path']}: by {change['agent']} (contributors: {', '.join(change['contributors'])})")
            sessions = (await client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
            for session in sessions:
                print(f"    session {session['agent']}: {session['backend_session_id']} ({session['turns']} turns)")
            print(f"\ncold turn {cold:.2f} s, warm turn {warm:.2f} s, back after the switch {back:.2f} s")
            print(f"warm/cold speed-up: {cold / warm:.1f}x" if warm > 0 else "warm/cold speed-up: n/a")
    if not keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_demo(args.keep, args.native_only))
    except KeyboardInterrupt:
        print("hearth demo: interrupted", file=sys.stderr)
        return 130


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="offline scripted end-to-end run against the built-in scripted LLM")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data dir and repository")
    demo.add_argument("--native-only", action="store_true", help="skip opencode even when it is installed")
    demo.set_defaults(func=_run)
