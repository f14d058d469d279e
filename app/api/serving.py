"""uvicorn serving hearth's Litestar app, with shutdown ending the event streams first.

uvicorn's shutdown stops listening, waits (up to its graceful timeout) for every open response to finish, and only
then runs the lifespan shutdown that stops the service. A chat's event stream never ends on its own, so one
connected client would hold shutdown for the whole timeout and then be cancelled mid-response ("Exception in
ASGI application"). Ending the streams as shutdown begins lets them finish cleanly; clients reconnect with
``Last-Event-ID`` and lose nothing.
"""

from __future__ import annotations

import socket

import uvicorn
from litestar import Litestar

from app.usecases.bundle import ServesUseCases


def end_open_streams(app: Litestar) -> None:
    """Ends the event streams of the hearth the app's lifespan runs (nothing before it started)."""
    service: ServesUseCases | None = app.state.get("service")
    if service is not None:
        service.use_cases.streams.stop()


class HearthServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Litestar, ready_message: str | None = None) -> None:
        super().__init__(config)
        self._hearth_app = app
        self._ready_message = ready_message  # printed once hearth started and listens, never before

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready_message:
            print(self._ready_message, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_open_streams(self._hearth_app)
        await super().shutdown(sockets)
