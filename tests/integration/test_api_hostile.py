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


async def test_unusable_repo_paths_are_422_naming_repo_path(hearth: Hearth, git_repo: Path) -> None:
    """Paths no filesystem can hold or expand used to reach a 500."""
    for hostile in (f"{git_repo}\x00", "\x00", "~no-such-user-hearth/repo", f"{git_repo}/{'x' * 300}"):
        response = await hearth.client.post("/api/chats", json={"repo_path": hostile})
        assert response.status_code == 422, (hostile, response.text)
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


async def test_the_openapi_schema_documents_every_status_the_api_answers(hearth: Hearth, git_repo: Path) -> None:
    paths = (await hearth.client.get("/schema/openapi.json")).json()["paths"]
    chat_url = "/api/chats/{chat_id}"
    seen: list[tuple[str, str, int]] = []

    async def call(method: str, template: str, url: str, **kwargs: object) -> dict[str, object]:
        response = await hearth.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        seen.append((method.lower(), template, response.status_code))
        body: dict[str, object] = response.json()
        return body

    chat = str((await call("POST", "/api/chats", "/api/chats", json={"repo_path": str(git_repo)}))["id"])
    base = f"/api/chats/{chat}"
    turn = await call("POST", f"{chat_url}/turns", f"{base}/turns", json={"agent": "native", "prompt": "WRITE a.txt a"})
    await hearth.wait_turn(chat, str(turn["id"]))
    turn_url = f"{chat_url}/turns/{{turn_id}}"
    await call("POST", f"{turn_url}/cancel", f"{base}/turns/{turn['id']}/cancel")
    await call("POST", f"{turn_url}/permissions/{{request_id}}", f"{base}/turns/{turn['id']}/permissions/nope", json={})
    await call("POST", f"{chat_url}/turns", f"{base}/turns", json={"agent": "qwen", "prompt": "x", "model": "m"})
    await call("GET", turn_url, f"{base}/turns/turn-missing")
    await call("PUT", f"{chat_url}/files", f"{base}/files", json={"path": "b.txt", "content": "b\n"})
    await call("POST", f"{chat_url}/changes/discard", f"{base}/changes/discard", json={"paths": ["b.txt"]})
    await call("POST", f"{chat_url}/changes/apply", f"{base}/changes/apply", json={})
    await call("DELETE", chat_url, "/api/chats/chat-missing")
    await call("POST", f"{chat_url}/close", f"{base}/close", json={})
    await call("POST", f"{chat_url}/turns", f"{base}/turns", json={"agent": "native", "prompt": "too late"})

    statuses = {status for _, _, status in seen}
    assert {200, 201, 202, 404, 409, 422} <= statuses, seen  # the walk met every kind of answer
    undocumented = [(m, t, s) for m, t, s in seen if str(s) not in paths[t][m]["responses"]]
    assert undocumented == []
