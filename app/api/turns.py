"""Turns: submit (202), list, get, cancel, permission answers, and the turn's SSE stream."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent

from app.api.chats import LastEventId
from app.api.dto import CancelView, PermissionAnswer, TurnSubmit, TurnView, turn_json
from app.api.history import AFTER, BEFORE, LIMIT, LINK, next_url, paged
from app.api.idempotency import Idempotency
from app.api.problems import documented_problems
from app.api.sse import EVENT_STREAM, event_stream, parse_last_event_id
from app.usecases.history import History
from app.usecases.streams import EventStreams
from app.usecases.turns import Turns


class TurnController(Controller):
    path = "/api/chats/{chat_id:str}/turns"
    tags = ["turns"]

    @post(
        "/",
        status_code=202,
        responses={
            202: ResponseSpec(
                TurnView, description="the submitted turn: `queued`, or `running` when this node started it at once"
            ),
            **documented_problems(404, 409, 413, 422),
        },
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        data: JSONBody[TurnSubmit],
        turns: NamedDependency[Turns],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            task = await turns.submit(chat_id, data.agent, data.prompt, data.model, data.origin)
            return 202, turn_json(task)

        return await idempotency.run(request, action)

    @get(
        "/",
        responses={
            200: ResponseSpec(list[TurnView], description="a page of the chat's turns"),
            **documented_problems(404, 422),
        },
        response_headers=[LINK],
        description="The chat's turns, oldest first, a page at a time: the newest `limit` (default 100, at most "
        "500), or those `after`/`before` a turn id; the `Link` header names the next page in the same direction.",
    )
    async def list_turns(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        history: NamedDependency[History],
        after: AFTER = None,
        before: BEFORE = None,
        limit: LIMIT = None,
    ) -> Response[Any]:
        page = await history.turns(chat_id, after, before, limit)
        return paged([turn_json(t) for t in page.items], next_url(request, page))

    @get("/{turn_id:str}", responses={200: ResponseSpec(TurnView, description="the turn"), **documented_problems(404)})
    async def get_turn(
        self, chat_id: FromPath[str], turn_id: FromPath[str], turns: NamedDependency[Turns]
    ) -> dict[str, Any]:
        return turn_json(await turns.get(chat_id, turn_id))

    @post(
        "/{turn_id:str}/cancel",
        status_code=202,
        responses={202: ResponseSpec(CancelView, description="the turn as it is now"), **documented_problems(404)},
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        turn_id: FromPath[str],
        turns: NamedDependency[Turns],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            task, outcome = await turns.cancel(chat_id, turn_id)
            return 202, {**turn_json(task), "cancel": outcome}

        return await idempotency.run(request, action)

    @post(
        "/{turn_id:str}/permissions/{request_id:str}",
        status_code=200,
        responses={
            202: ResponseSpec(data_container=dict[str, Any], description="relayed to the node running the turn"),
            **documented_problems(404, 409, 422),
        },
    )
    async def answer_permission(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        turn_id: FromPath[str],
        request_id: FromPath[str],
        data: JSONBody[PermissionAnswer],
        turns: NamedDependency[Turns],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            relayed_to = await turns.answer_permission(chat_id, turn_id, request_id, data.option_id)
            answer = {"turn_id": turn_id, "request_id": request_id, "option_id": data.option_id}
            if relayed_to is not None:  # 202: relayed; the node running the turn is woken to deliver it
                return 202, {**answer, "relayed_to": relayed_to}
            return 200, answer

        return await idempotency.run(request, action)

    @get("/{turn_id:str}/events", media_type=EVENT_STREAM, responses=documented_problems(404))
    async def events(
        self,
        chat_id: FromPath[str],
        turn_id: FromPath[str],
        turns: NamedDependency[Turns],
        streams: NamedDependency[EventStreams],
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        await turns.get(chat_id, turn_id)
        return event_stream(streams.follow(chat_id, turn_id, parse_last_event_id(last_event_id)))
