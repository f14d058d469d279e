"""Malformed and hostile requests get 4xx problem+json naming the field or state, and change nothing."""

from __future__ import annotations

from pathlib import Path

from tests.plugins.service import Hearth


def _problem(response: object) -> dict[str, object]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, object] = response.json()
    assert body["status"] == response.status_code
    assert body["detail"]
    return body


async def test_bad_json_and_unknown_fields_are_400(hearth: Hearth) -> None:
    response = await hearth.client.post(
        "/api/chats", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    _problem(response)
    response = await hearth.client.post("/api/chats", json={"repo_path": "/x", "evil": True})
    assert response.status_code == 400
    _problem(response)
    assert (await hearth.client.get("/api/chats")).json() == []


async def test_path_outside_repo_roots_is_refused(hearth: Hearth, git_repo: Path, tmp_path: Path) -> None:
    for hostile in ("/etc", str(git_repo / ".." / ".." / ".."), "../../etc/passwd", str(tmp_path)):
        response = await hearth.client.post("/api/chats", json={"repo_path": hostile})
        assert 400 <= response.status_code < 500, (hostile, response.text)
        assert _problem(response).get("field") == "repo_path"
    assert (await hearth.client.get("/api/chats")).json() == []


async def test_unknown_agent_empty_and_huge_prompts_store_nothing(hearth: Hearth, git_repo: Path) -> None:
    chat = await hearth.create_chat(git_repo)
    turns_url = f"/api/chats/{chat['id']}/turns"
    response = await hearth.client.post(turns_url, json={"agent": "nope", "prompt": "hi"})
    assert response.status_code == 422
    assert _problem(response)["field"] == "agent"
    response = await hearth.client.post(turns_url, json={"agent": "native", "prompt": "   "})
    assert response.status_code == 422
    assert _problem(response)["field"] == "prompt"
    huge = "x" * (hearth.settings.max_prompt_chars + 1)
    response = await hearth.client.post(turns_url, json={"agent": "native", "prompt": huge})
    assert response.status_code == 413
    assert _problem(response)["field"] == "prompt"
    assert (await hearth.client.get(turns_url)).json() == []


async def test_missing_things_are_404_problems(hearth: Hearth) -> None:
    for url in ("/api/chats/chat-missing", "/api/chats/chat-missing/turns/turn-x", "/api/chats/chat-missing/changes"):
        response = await hearth.client.get(url)
        assert response.status_code == 404
        _problem(response)
    response = await hearth.client.post("/api/chats/chat-missing/turns", json={"agent": "native", "prompt": "x"})
    assert response.status_code == 404
    assert _problem(response)["field"] == "chat_id"


async def test_openapi_schema_is_served(hearth: Hearth) -> None:
    response = await hearth.client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/chats/{chat_id}/turns" in paths
    assert "/api/chats/{chat_id}/turns/{turn_id}/events" in paths
