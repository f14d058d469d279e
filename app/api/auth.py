"""Bearer-token guard: required whenever hearth listens beyond loopback (it refuses to start otherwise)."""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

OPEN_PATHS = ("/api/health",)  # liveness for load balancers; its details still need the token
# the console's page answers its login form to a browser without the token, and the form posts it here
CONSOLE_OPEN_PATHS = ("/", "/console/login")
# the console keeps the token for the browser session in this cookie (HttpOnly, SameSite=Strict), checked like
# the header, so the browser's EventSource, which cannot send an Authorization header, reaches the SSE routes
TOKEN_COOKIE = "hearth_token"  # noqa: S105 (the cookie name, not a secret)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InsecureBinding(RuntimeError):
    pass


def check_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise InsecureBinding(
            f"refusing to listen on {host} without an API token: set HEARTH_API_TOKEN (clients then send "
            "'Authorization: Bearer <token>'), or bind to 127.0.0.1"
        )


def has_token(connection: ASGIConnection[Any, Any, Any, Any], token: str | None) -> bool:
    """True when no token is configured or the request carries it."""
    if not token:
        return True
    given = connection.headers.get("authorization", "").encode()
    cookie = connection.cookies.get(TOKEN_COOKIE, "").encode()
    return secrets.compare_digest(given, f"Bearer {token}".encode()) or secrets.compare_digest(cookie, token.encode())


def bearer_guard(token: str) -> Any:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.url.path in OPEN_PATHS or connection.url.path in CONSOLE_OPEN_PATHS:
            return
        if not has_token(connection, token):
            raise NotAuthorizedException("missing or wrong bearer token: send 'Authorization: Bearer <token>'")

    return guard
