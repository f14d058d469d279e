"""``hearth agents install [NAME...]``, ``hearth agents list``, ``hearth agents reset NAME`` and ``hearth doctor``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx
from returns.result import Failure, Success

from adapters.agent_install import check_agents, install_packages, packages_for
from adapters.sandbox.probe import probe as sandbox_probe
from app.settings import Settings
from core.agents import AgentSpec


def register(subparsers: Any) -> None:
    """Adds ``agents`` and ``doctor`` to the ``hearth`` parser's subcommands."""
    agents = subparsers.add_parser("agents", help="install or list the coding agents hearth drives")
    actions = agents.add_subparsers(dest="agents_command", required=True)
    install = actions.add_parser("install", help="npm-install the pinned agent packages into hearth's cache")
    install.add_argument("names", nargs="*", metavar="NAME", help="agents to install (default: every npm agent)")
    install.set_defaults(func=_install)
    listing = actions.add_parser("list", help="list the configured agents and whether each is installed")
    listing.set_defaults(func=_list)
    reset = actions.add_parser(
        "reset", help="bring back an agent that crashed too often (dead) in the running hearth, once its cause is fixed"
    )
    reset.add_argument("name", metavar="NAME", help="the agent to reset")
    reset.add_argument("--url", help="hearth's URL (default $HEARTH_URL or http://127.0.0.1:8420)")
    reset.add_argument("--token", help="API token (default $HEARTH_API_TOKEN)")
    reset.set_defaults(func=_reset)
    doctor = subparsers.add_parser("doctor", help="check every agent: found, version, path, and how to fix it")
    doctor.set_defaults(func=_doctor)


def _say(line: str) -> None:
    print(f"hearth: {line}", flush=True)


def _selected(settings: Settings, names: list[str]) -> list[AgentSpec] | None:
    catalogue = settings.agents()
    unknown = [name for name in names if name not in catalogue]
    if unknown:
        known = ", ".join(sorted(catalogue))
        print(f"hearth: unknown agent(s) {', '.join(unknown)}; configured agents: {known}", file=sys.stderr)
        return None
    return [catalogue[name] for name in names] if names else list(catalogue.values())


def _install(args: argparse.Namespace) -> int:
    settings = Settings()
    specs = _selected(settings, args.names)
    if specs is None:
        return 2
    packages = packages_for(specs)
    if not packages:
        _say("nothing to install: the selected agents have no npm package")
        return 0
    result = install_packages(packages, settings.agents_dir, say=_say)
    if isinstance(result, Failure):
        print(f"hearth: agents install failed: {result.failure().detail}", file=sys.stderr)
        return 1
    _say(f"agents ready in {settings.agents_dir}")
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = Settings()
    catalogue = settings.agents()
    checks = {check.name: check for check in check_agents(catalogue.values(), settings.agents_dir)}
    width = max(len(name) for name in catalogue)
    for name, spec in catalogue.items():
        check = checks[name]
        state = "ready" if not spec.command else f"installed {check.version}" if check.ok else "not installed"
        source = spec.npm_package or spec.command or "built in"
        print(f"{name:<{width}}  {spec.backend.value:<16} {source:<42} {state}", flush=True)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    settings = Settings()
    checks = check_agents(settings.agents().values(), settings.agents_dir)
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "ok     " if check.ok else "MISSING"
        print(f"{mark} {check.name:<{width}}  {check.version:<24} {check.path}", flush=True)
        if check.fix:
            print(f"        {'':<{width}}  fix: {check.fix}", flush=True)
    missing = [check.name for check in checks if not check.ok]
    if not _doctor_sandbox(settings, width):
        missing.append("sandbox")
    if missing:
        print(f"hearth: missing: {', '.join(missing)} (see the fix lines above)", file=sys.stderr)
        return 1
    print(f"hearth: all {len(checks)} checks passed (agents in {settings.agents_dir})", flush=True)
    return 0


def _doctor_sandbox(settings: Settings, width: int) -> bool:
    """Probe the sandbox for real; name every agent whose commands run unconfined. False: it is needed and broken."""
    specs = settings.agents().values()
    for spec in specs:
        if spec.sandbox == "off":
            print(f"WARN    {spec.name:<{width}}  sandbox off: its shell commands are NOT confined to the worktree")
    probed = sandbox_probe()
    confined = [spec.name for spec in specs if spec.sandbox == "worktree"]
    if isinstance(probed, Success):
        print(f"ok      {'sandbox':<{width}}  bubblewrap {probed.unwrap()} confines writes to the worktree", flush=True)
        return True
    mark = "MISSING" if confined else "WARN   "
    print(f"{mark} {'sandbox':<{width}}  {probed.failure()}", flush=True)
    if confined:
        print(f"        {'':<{width}}  without it these agents refuse to run: {', '.join(confined)}", flush=True)
    return not confined


def _reset(args: argparse.Namespace) -> int:
    """Asks the running hearth (its supervisors live in that process) to clear the agent's crash budget."""
    base_url = args.url or os.environ.get("HEARTH_URL") or "http://127.0.0.1:8420"
    token = args.token or os.environ.get("HEARTH_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{base_url}/api/agents/{args.name}/reset"
    try:
        response = httpx.post(url, headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        print(f"hearth: cannot reach {base_url} ({exc}); is `hearth serve` running there?", file=sys.stderr)
        return 1
    if response.status_code != 200:
        detail = response.json().get("detail") if response.headers.get("content-type", "").endswith("json") else None
        print(
            f"hearth: reset of {args.name} refused (HTTP {response.status_code}): {detail or response.text}",
            file=sys.stderr,
        )
        return 1
    if response.json().get("reset"):
        _say(f"{args.name} was dead and is reset: its next turn starts it again")
    else:
        _say(f"{args.name} was not dead: nothing to reset")
    return 0
