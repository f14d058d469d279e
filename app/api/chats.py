"""Chats: create, list, get, close, delete; worktree risk; agent sessions with chips; the chat's SSE stream."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from app.api.dto import AgentSessionsView, ChatCreate, ChatUpdate, CloseRequest, chat_json
from app.api.idempotency import Idempotency
from app.api.problems import documented_problems
from app.api.sse import EVENT_STREAM, event_stream, parse_last_event_id
from app.usecases.agents import Agents
from app.usecases.chats import Chats
from app.usecases.errors import ok
from app.usecases.streams import EventStreams
from core.model import Chat
from core.paging import read_seq
from core.routing import CHIP_MEANING

ReplayAfter = Annotated[
    str | None, QueryParameter(name="after", required=False, description="replay the events after this seq")
]
LastEventId = Annotated[str | None, HeaderParameter(name="Last-Event-ID", required=False)]


async def _with_worktree(chats: Chats, chat: Chat) -> dict[str, Any]:
    worktree = await chats.worktree(chat.id)
    return {**chat_json(chat), "worktree": worktree.model_dump(mode="json") if worktree else None}


class ChatController(Controller):
    path = "/api/chats"
    tags = ["chats"]

    @post("/", responses=documented_problems(422))
    async def create_chat(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCreate],
        chats: NamedDependency[Chats],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            created = await chats.create(data.repo_path, data.ref, data.title, data.on_interrupt)
            return 201, await _with_worktree(chats, created)

        return await idempotency.run(request, action)

    @get("/")
    async def list_chats(self, chats: NamedDependency[Chats]) -> list[dict[str, Any]]:
        return [chat_json(c) for c in await chats.all()]

    @get("/{chat_id:str}", responses=documented_problems(404))
    async def get_chat(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, Any]:
        return await _with_worktree(chats, await chats.get(chat_id))

    @patch("/{chat_id:str}", responses=documented_problems(404, 422))
    async def update_chat(
        self, chat_id: FromPath[str], data: JSONBody[ChatUpdate], chats: NamedDependency[Chats]
    ) -> dict[str, Any]:
        """Change what follows the chat's interrupted turns (``on_interrupt``: ``stop`` or ``continue``)."""
        return await _with_worktree(chats, await chats.set_on_interrupt(chat_id, data.on_interrupt))

    @post("/{chat_id:str}/close", status_code=200, responses=documented_problems(404, 409))
    async def close_chat(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        chats: NamedDependency[Chats],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[CloseRequest | None] = None,
        force: FromQuery[bool] = False,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            return 200, chat_json(await chats.close(chat_id, force or (data is not None and data.force)))

        return await idempotency.run(request, action)

    @delete("/{chat_id:str}", status_code=200, responses=documented_problems(404, 409))
    async def delete_chat(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        chats: NamedDependency[Chats],
        idempotency: NamedDependency[Idempotency],
        force: FromQuery[bool] = False,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            await chats.delete(chat_id, force)
            return 200, {"deleted": chat_id}

        return await idempotency.run(request, action)

    @get("/{chat_id:str}/worktree-risk", responses=documented_problems(404))
    async def worktree_risk(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, Any]:
        risk = await chats.risk(chat_id)
        return {"chat_id": chat_id, **risk.model_dump(mode="json")}

    @get(
        "/{chat_id:str}/agent-sessions",
        responses={200: ResponseSpec(AgentSessionsView, description="the chat's agents"), **documented_problems(404)},
        description="Each agent session of the chat (status, tokens, cost) and, per configured agent, the chip a "
        "composer shows: " + "; ".join(f"`{chip.value}`: {meaning}" for chip, meaning in CHIP_MEANING.items()) + ".",
    )
    async def agent_sessions(self, chat_id: FromPath[str], agents: NamedDependency[Agents]) -> dict[str, Any]:
        sessions, chips = await agents.sessions(chat_id)
        chip_values = {agent: chip.value for agent, chip in chips.items()}
        view = AgentSessionsView(
            chat_id=chat_id, sessions=sessions, chips=chip_values, background_work=agents.background_work(chat_id)
        )
        return view.model_dump(mode="json")

    @get(
        "/{chat_id:str}/events",
        media_type=EVENT_STREAM,
        responses=documented_problems(404, 422),
        description="The chat's events live, after a replay from the journal (read a page at a time) of those after "
        "`Last-Event-ID`, or else after the `after` query parameter (an event `seq`), or else from the start.",
    )
    async def chat_events(
        self,
        chat_id: FromPath[str],
        chats: NamedDependency[Chats],
        streams: NamedDependency[EventStreams],
        last_event_id: LastEventId = None,
        after: ReplayAfter = None,
    ) -> ServerSentEvent:
        await chats.get(chat_id)
        start = parse_last_event_id(last_event_id) if last_event_id else (ok(read_seq(after, "after")) or 0)
        return event_stream(streams.follow(chat_id, None, start))
