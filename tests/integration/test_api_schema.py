"""The live OpenAPI schema is true: schemathesis generates requests for every route against a running hearth and
checks each response against what the schema documents (status codes, content types, bodies), and that nothing
answers 500. Path parameters get real chat and turn ids (a finished turn's) as often as generated ones, so the
routes are exercised beyond their 404s.

schemathesis is synchronous (requests): it runs in a thread while the in-process hearth serves on this loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents  # the real turn runs the native agent

EXAMPLES_PER_ROUTE = 12
REQUEST_TIMEOUT_S = 10.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# a chat's event stream never ends on its own: only its refusals (unknown chat) are generated for it
ENDLESS = {("GET", "/api/chats/{chat_id}/events")}


def _ending_last(method: str, path: str) -> int:
    """Reads first, then what changes the chat, then closing and deleting it: so the real ids stay usable."""
    if method.upper() == "DELETE":
        return 3
    if path.endswith("/close"):
        return 2
    return 0 if method.upper() == "GET" else 1


def _check_every_route(base_url: str, real: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the schema has an operation schemathesis cannot read: {result.err()}")
        else:
            operations.append(result.ok())
    for operation in sorted(operations, key=lambda op: _ending_last(op.method, op.path)):
        generated = operation.as_strategy()
        known = {name: real[name] for name in real if f"{{{name}}}" in operation.path}
        endless = (operation.method.upper(), operation.path) in ENDLESS
        cases = generated
        if known and not endless:
            cases = st.one_of(generated, operation.as_strategy(path_parameters=known))

        @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def run(case: Any) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=REQUEST_TIMEOUT_S)

        try:
            run()
        except (Exception, BaseExceptionGroup) as failure:  # collect every route's findings, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    return failures


async def test_every_route_answers_what_the_schema_documents(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    turn = await hearth.run_turn(chat, "native", "hello")
    assert turn["status"] == "succeeded", turn
    failures = await asyncio.to_thread(_check_every_route, hearth.base_url, {"chat_id": chat, "turn_id": turn["id"]})
    assert not failures, "\n\n".join(failures)
