"""Litestar application factory (placeholder until the service lands: health only)."""

from __future__ import annotations

from litestar import Litestar, get

from app.settings import Settings


def create_app(settings: Settings) -> Litestar:
    @get("/api/health", sync_to_thread=False)
    def health() -> dict[str, object]:
        return {"status": "ok", "node_id": settings.node_id}

    return Litestar(route_handlers=[health])
