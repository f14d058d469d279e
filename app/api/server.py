"""Litestar application factory: the lifespan owns the running hearth; controllers get its use cases by
dependency injection, and nothing else of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi.config import OpenAPIConfig

from app.api.arena import ArenaController
from app.api.auth import bearer_guard, check_binding
from app.api.changes import ChangesController
from app.api.chats import ChatController
from app.api.console import console_routes
from app.api.history import HistoryController
from app.api.idempotency import Idempotency
from app.api.mcp.mount import mcp_mount
from app.api.problems import EXCEPTION_HANDLERS
from app.api.system import SystemController
from app.api.tasks import TaskController
from app.api.turns import TurnController
from app.settings import Settings
from app.usecases.bundle import ServesUseCases, UseCases
from app.version import VERSION

OpenService = Callable[[Settings], AbstractAsyncContextManager[ServesUseCases]]


def _use_cases(state: State) -> UseCases:
    service: ServesUseCases = state.service
    return service.use_cases


def _provide(pick: Callable[[UseCases], object]) -> Provide:
    def provide(state: State) -> Any:
        return pick(_use_cases(state))

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings, open_service: OpenService) -> Litestar:
    """Refuses to build an app that would listen beyond loopback without a token."""
    check_binding(settings.host, settings.api_token)

    mcp = mcp_mount(lambda: _use_cases(app.state), settings.host, settings.api_token)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_service(settings) as service, mcp.running():
            app.state.service = service
            app.state.idempotency = Idempotency(service.use_cases.replays)
            try:
                yield
            finally:
                del app.state.service

    def provide_idempotency(state: State) -> Idempotency:
        idempotency: Idempotency = state.idempotency
        return idempotency

    guards: list[Any] = [bearer_guard(settings.api_token)] if settings.api_token else []
    app = Litestar(
        route_handlers=[
            ChatController,
            TurnController,
            ChangesController,
            SystemController,
            TaskController,
            mcp.handler,
            ArenaController,
            HistoryController,
            *console_routes(),
        ],
        lifespan=[lifespan],
        state=State({"api_token": settings.api_token}),
        dependencies={
            "chats": _provide(lambda u: u.chats),
            "turns": _provide(lambda u: u.turns),
            "changes": _provide(lambda u: u.changes),
            "agents": _provide(lambda u: u.agents),
            "streams": _provide(lambda u: u.streams),
            "system": _provide(lambda u: u.system),
            "tasks": _provide(lambda u: u.tasks),
            "arenas": _provide(lambda u: u.arenas),
            "history": _provide(lambda u: u.history),
            "idempotency": Provide(provide_idempotency, sync_to_thread=False),
        },
        guards=guards,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="hearth", version=VERSION, path="/schema"),
        # hearth's own INFO lines; third-party chatter (httpx request lines, ...) only from WARNING up
        logging_config=LoggingConfig(
            root={"level": "WARNING", "handlers": ["queue_listener"]},
            loggers={"app": {"level": "INFO"}, "adapters": {"level": "INFO"}},
            log_exceptions="debug",
        ),
    )
    return app
