"""The web console: one page and its static assets, served by hearth itself (ADR 0014).

The page is a client of the JSON API and its SSE streams, so the console can do nothing the API cannot. When
hearth requires a token, a browser without it gets only the login form; the form's token is kept for the browser
session in an HttpOnly cookie that the API's own guard accepts like the bearer header.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from litestar.router import Router
from litestar.static_files import create_static_files_router

from app.api.auth import TOKEN_COOKIE, has_token

ASSETS = Path(__file__).parent / "console_assets"
STATIC_PATH = "/console/static"
LoginForm = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _login_page(message: str) -> str:
    page = (ASSETS / "login.html").read_text(encoding="utf-8")
    notice = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return page.replace("<!--notice-->", notice)


def _page(status_code: int, body: str) -> Response[str]:
    return Response(body, status_code=status_code, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})


class ConsoleController(Controller):
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Any, Any, Any], state: State) -> Response[str]:
        if not has_token(request, state.api_token):
            return _page(200, _login_page(""))
        return _page(200, (ASSETS / "index.html").read_text(encoding="utf-8"))

    @post("/console/login", status_code=303)
    async def login(self, state: State, data: LoginForm) -> Response[Any]:
        token: str | None = state.api_token
        if token is None:
            return Redirect("/", status_code=303)
        given = data.get("token", "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return _page(401, _login_page("That token is not hearth's token (HEARTH_API_TOKEN); try again."))
        cookie = Cookie(key=TOKEN_COOKIE, value=token, httponly=True, samesite="strict", path="/")
        return Redirect("/", status_code=303, cookies=[cookie])

    @post("/console/logout", status_code=303)
    async def logout(self) -> Redirect:
        return Redirect("/", status_code=303, cookies=[Cookie(key=TOKEN_COOKIE, value="", max_age=0, path="/")])


def console_routes() -> list[Router | type[Controller]]:
    """The page, the login form and the pinned assets (behind the same guard as the API)."""
    assets = create_static_files_router(path=STATIC_PATH, directories=[ASSETS], include_in_schema=False)
    return [ConsoleController, assets]
