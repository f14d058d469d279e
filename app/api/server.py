"""Litestar application factory: the lifespan owns the Service; controllers get it by dependency injection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi.config import OpenAPIConfig

from app.api.auth import bearer_guard, check_binding
from app.api.chats import ChatController
from app.api.idempotency import Idempotency
from app.api.problems import EXCEPTION_HANDLERS
from app.api.system import SystemController
from app.api.turns import TurnController
from app.bootstrap import Service, run_service
from app.settings import Settings

ServiceFactory = Callable[[Settings], AbstractAsyncContextManager[Service]]


def create_app(settings: Settings, service_factory: ServiceFactory = run_service) -> Litestar:
    """Refuses to build an app that would listen beyond loopback without a token."""
    check_binding(settings.host, settings.api_token)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with service_factory(settings) as service:
            app.state.service = service
            try:
                yield
            finally:
                del app.state.service

    def provide_service(state: State) -> Service:
        service: Service = state.service
        return service

    idempotency = Idempotency()

    def provide_idempotency() -> Idempotency:
        return idempotency

    guards: list[Any] = [bearer_guard(settings.api_token)] if settings.api_token else []
    return Litestar(
        route_handlers=[ChatController, TurnController, SystemController],
        lifespan=[lifespan],
        dependencies={
            "service": Provide(provide_service, sync_to_thread=False),
            "idempotency": Provide(provide_idempotency, sync_to_thread=False),
        },
        guards=guards,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="hearth", version="0.1.0", path="/schema"),
        # hearth's own INFO lines; third-party chatter (httpx request lines, ...) only from WARNING up
        logging_config=LoggingConfig(
            root={"level": "WARNING", "handlers": ["queue_listener"]},
            loggers={"app": {"level": "INFO"}, "adapters": {"level": "INFO"}},
            log_exceptions="debug",
        ),
    )
