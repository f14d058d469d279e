"""The arena: start one (202), read it, follow it on SSE, adopt a contestant, discard it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent

from app.api.arena_dto import AdoptRequest, ArenaCreate, ArenaJson, arena_json
from app.api.chats import LastEventId
from app.api.idempotency import Idempotency
from app.api.problems import documented_problems
from app.api.sse import EVENT_STREAM, event_stream, parse_last_event_id
from app.usecases.arena import Arenas


class ArenaController(Controller):
    path = "/api/chats/{chat_id:str}/arena"
    tags = ["arena"]

    @post(
        "/",
        status_code=202,
        responses={
            202: ResponseSpec(ArenaJson, description="the arena, its contestants forked and starting"),
            **documented_problems(404, 409, 413, 422),
        },
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        data: JSONBody[ArenaCreate],
        arenas: NamedDependency[Arenas],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            return 202, arena_json(await arenas.start(chat_id, data.prompt, data.specs()))

        return await idempotency.run(request, action)

    @get(
        "/{arena_id:str}", responses={200: ResponseSpec(ArenaJson, description="the arena"), **documented_problems(404)}
    )
    async def get_arena(
        self, chat_id: FromPath[str], arena_id: FromPath[str], arenas: NamedDependency[Arenas]
    ) -> dict[str, Any]:
        return arena_json(await arenas.get(chat_id, arena_id))

    @get("/{arena_id:str}/events", media_type=EVENT_STREAM, responses=documented_problems(404))
    async def events(
        self,
        chat_id: FromPath[str],
        arena_id: FromPath[str],
        arenas: NamedDependency[Arenas],
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        """Every contestant's events; the stream ends once each contestant has ended."""
        return event_stream(await arenas.follow(chat_id, arena_id, parse_last_event_id(last_event_id)))

    @post(
        "/{arena_id:str}/adopt",
        status_code=200,
        responses={
            200: ResponseSpec(ArenaJson, description="the adopted arena"),
            **documented_problems(404, 409, 422),
        },
    )
    async def adopt(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        arena_id: FromPath[str],
        data: JSONBody[AdoptRequest],
        arenas: NamedDependency[Arenas],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            return 200, arena_json(await arenas.adopt(chat_id, arena_id, data.contestant))

        return await idempotency.run(request, action)

    @post(
        "/{arena_id:str}/discard",
        status_code=200,
        responses={200: ResponseSpec(ArenaJson, description="the discarded arena"), **documented_problems(404, 409)},
    )
    async def discard(
        self, chat_id: FromPath[str], arena_id: FromPath[str], arenas: NamedDependency[Arenas]
    ) -> dict[str, Any]:
        return arena_json(await arenas.discard(chat_id, arena_id))

    @delete(
        "/{arena_id:str}",
        status_code=200,
        responses={200: ResponseSpec(ArenaJson, description="the discarded arena"), **documented_problems(404, 409)},
    )
    async def delete_arena(
        self, chat_id: FromPath[str], arena_id: FromPath[str], arenas: NamedDependency[Arenas]
    ) -> dict[str, Any]:
        """The same as discard."""
        return arena_json(await arenas.discard(chat_id, arena_id))
