"""Chats: create, list, get, close, delete; worktree risk; agent sessions with chips; pending changes."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import ServerSentEvent
from returns.pipeline import is_successful
from returns.result import Result

from app import chats as ops
from app.api.dto import (
    ChatCreate,
    CloseRequest,
    FileEdit,
    PathsRequest,
    change_json,
    chat_json,
    session_json,
)
from app.api.idempotency import Idempotency
from app.api.problems import Problem, documented_problems
from app.api.sse import event_stream, parse_last_event_id
from app.bootstrap import Service
from app.upkeep.reaping import risk_of
from core.errors import DomainError

T = TypeVar("T")
LastEventId = Annotated[str | None, HeaderParameter(name="Last-Event-ID", required=False)]


def unwrap(result: Result[T, DomainError]) -> T:
    if is_successful(result):
        return result.unwrap()
    raise Problem(result.failure())


class ChatController(Controller):
    path = "/api/chats"
    tags = ["chats"]

    @post("/", responses=documented_problems(422))
    async def create_chat(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCreate],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            chat = unwrap(await ops.create_chat(service, data.repo_path, data.ref, data.title))
            return 201, chat_json(chat)

        return await idempotency.run(service.store, request, action)

    @get("/")
    async def list_chats(self, service: NamedDependency[Service]) -> list[dict[str, Any]]:
        return [chat_json(c) for c in await service.store.list_chats()]

    @get("/{chat_id:str}", responses=documented_problems(404))
    async def get_chat(self, chat_id: FromPath[str], service: NamedDependency[Service]) -> dict[str, Any]:
        chat = unwrap(await ops.get_chat(service, chat_id))
        worktree = await service.store.get_worktree(chat_id)
        return {**chat_json(chat), "worktree": worktree.model_dump(mode="json") if worktree else None}

    @post("/{chat_id:str}/close", status_code=200, responses=documented_problems(404, 409))
    async def close_chat(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[CloseRequest | None] = None,
        force: FromQuery[bool] = False,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            chat = unwrap(await ops.close_chat(service, chat_id, force or (data is not None and data.force)))
            return 200, chat_json(chat)

        return await idempotency.run(service.store, request, action)

    @delete("/{chat_id:str}", status_code=200, responses=documented_problems(404, 409))
    async def delete_chat(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
        force: FromQuery[bool] = False,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            unwrap(await ops.delete_chat(service, chat_id, force))
            return 200, {"deleted": chat_id}

        return await idempotency.run(service.store, request, action)

    @get("/{chat_id:str}/worktree-risk", responses=documented_problems(404))
    async def worktree_risk(self, chat_id: FromPath[str], service: NamedDependency[Service]) -> dict[str, Any]:
        unwrap(await ops.get_chat(service, chat_id))
        worktree = await service.store.get_worktree(chat_id)
        risk = await risk_of(service.store, service.worktrees, worktree, chat_id)
        return {"chat_id": chat_id, **risk.model_dump(mode="json")}

    @get("/{chat_id:str}/agent-sessions", responses=documented_problems(404))
    async def agent_sessions(self, chat_id: FromPath[str], service: NamedDependency[Service]) -> dict[str, Any]:
        unwrap(await ops.get_chat(service, chat_id))
        sessions = await service.store.list_agent_sessions(chat_id)
        chips = await ops.chips(service, chat_id)
        return {
            "chat_id": chat_id,
            "sessions": [session_json(s) for s in sessions],
            "chips": {agent: chip.value for agent, chip in chips.items()},
        }

    @get("/{chat_id:str}/changes", responses=documented_problems(404))
    async def list_changes(self, chat_id: FromPath[str], service: NamedDependency[Service]) -> dict[str, Any]:
        unwrap(await ops.get_chat(service, chat_id))
        changes = await service.store.list_pending_changes(chat_id)
        agents = list(dict.fromkeys(a for c in changes for a in c.contributors))
        return {"chat_id": chat_id, "changes": [change_json(c) for c in changes], "contributors": agents}

    @post("/{chat_id:str}/changes/apply", status_code=200, responses=documented_problems(404, 409, 422))
    async def apply_changes(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[PathsRequest | None] = None,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            paths = data.paths if data is not None else None
            worktree = unwrap(await ops.apply_changes(service, chat_id, paths))
            return 200, {"applied": paths or "all", "base_commit": worktree.base_commit}

        return await idempotency.run(service.store, request, action)

    @post("/{chat_id:str}/changes/discard", status_code=200, responses=documented_problems(404, 409, 422))
    async def discard_changes(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[PathsRequest | None] = None,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            paths = data.paths if data is not None else None
            unwrap(await ops.discard_changes(service, chat_id, paths))
            return 200, {"discarded": paths or "all"}

        return await idempotency.run(service.store, request, action)

    @put("/{chat_id:str}/files", responses=documented_problems(404, 409, 422))
    async def edit_file(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        data: JSONBody[FileEdit],
        service: NamedDependency[Service],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            changes = unwrap(await ops.edit_file(service, chat_id, data.path, data.content))
            return 200, {"chat_id": chat_id, "changes": [change_json(c) for c in changes]}

        return await idempotency.run(service.store, request, action)

    @get("/{chat_id:str}/events", responses=documented_problems(404))
    async def chat_events(
        self, chat_id: FromPath[str], service: NamedDependency[Service], last_event_id: LastEventId = None
    ) -> ServerSentEvent:
        unwrap(await ops.get_chat(service, chat_id))
        after = parse_last_event_id(last_event_id)
        return ServerSentEvent(event_stream(service.store, service.bus, chat_id, None, after))
