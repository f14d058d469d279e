"""A chat's journal page by page (``?after=``/``?before=``/``?limit=``), and the ``Link`` header of every page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from app.api.dto import EventPage, event_json
from app.api.problems import documented_problems
from app.usecases.history import History, Page
from core.model import StoredEvent

AFTER = Annotated[
    str | None,
    QueryParameter(
        name="after",
        required=False,
        description="the cursor to page forward from (exclusive): the oldest items after it",
    ),
]
BEFORE = Annotated[
    str | None,
    QueryParameter(
        name="before",
        required=False,
        description="the cursor to page back from (exclusive): the newest items before it",
    ),
]
LIMIT = Annotated[
    str | None,
    QueryParameter(name="limit", required=False, description="how many items a page holds at most (a whole number)"),
]
LINK = ResponseHeader(
    name="Link",
    documentation_only=True,
    required=False,
    description='`<url>; rel="next"`: the following page in the same direction, absent on the last page',
)


def next_url(request: Request[Any, Any, Any], page: Page[Any, Any]) -> str | None:
    """The URL of the page after ``page`` in its direction, keeping the request's other parameters."""
    if page.next is None:
        return None
    query = {key: value for key, value in request.query_params.items() if key not in ("after", "before", "limit")}
    query["after" if page.forward else "before"] = str(page.next)
    query["limit"] = str(page.limit)
    return f"{request.url.path}?{urlencode(query)}"


def paged(body: Any, url: str | None) -> Response[Any]:
    return Response(body, headers={"Link": f'<{url}>; rel="next"'} if url is not None else None)


def _event_page(request: Request[Any, Any, Any], page: Page[StoredEvent, int]) -> Response[Any]:
    url = next_url(request, page)
    return paged({"events": [event_json(row) for row in page.items], "next": url}, url)


class HistoryController(Controller):
    path = "/api/chats/{chat_id:str}"
    tags = ["history"]

    @get(
        "/journal",
        responses={
            200: ResponseSpec(EventPage, description="a page of the chat's events"),
            **documented_problems(404, 422),
        },
        response_headers=[LINK],
        description="The chat's journal as JSON pages, oldest first: cursors are event `seq`s (the SSE `id:`). "
        "Without `before` it reads forward from `after` (or the start); with `before` alone, back from it.",
    )
    async def chat_journal(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        history: NamedDependency[History],
        after: AFTER = None,
        before: BEFORE = None,
        limit: LIMIT = None,
    ) -> Response[Any]:
        return _event_page(request, await history.events(chat_id, None, after, before, limit))

    @get(
        "/turns/{turn_id:str}/journal",
        responses={
            200: ResponseSpec(EventPage, description="a page of the turn's events"),
            **documented_problems(404, 422),
        },
        response_headers=[LINK],
        description="One turn's journal as JSON pages, paged as the chat's journal.",
    )
    async def turn_journal(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        turn_id: FromPath[str],
        history: NamedDependency[History],
        after: AFTER = None,
        before: BEFORE = None,
        limit: LIMIT = None,
    ) -> Response[Any]:
        return _event_page(request, await history.events(chat_id, turn_id, after, before, limit))
