"""Agents (list, operator reset), health and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from app.api.auth import has_token
from app.api.problems import documented_problems
from app.usecases.agents import Agents
from app.usecases.system import System


class SystemController(Controller):
    tags = ["system"]

    @get("/api/agents")
    async def agents(self, agents: NamedDependency[Agents]) -> list[dict[str, Any]]:
        catalogue = await asyncio.to_thread(agents.catalogue)
        return [info.model_dump(mode="json", exclude_none=True) for info in catalogue]

    @get("/api/agents/memory")
    async def memory(self, system: NamedDependency[System]) -> dict[str, Any]:
        """The memory budget (ADR 0015): bytes charged to each agent and chat, the background work that keeps an
        idle agent alive, evictions by reason, forced evictions and what they stopped, admissions waiting."""
        return system.memory()

    @post("/api/agents/{name:str}/reset", status_code=200, responses=documented_problems(404))
    async def reset_agent(self, name: FromPath[str], agents: NamedDependency[Agents]) -> dict[str, Any]:
        """Clear the crash budget of an agent that crashed too often (``dead``), once its cause is fixed."""
        return {"agent": name, "reset": agents.reset(name)}

    @get(
        "/api/health",
        responses={
            503: ResponseSpec(
                dict[str, Any], description="the store cannot be reached or written: hearth cannot work (degraded)"
            )
        },
    )
    async def health(
        self, request: Request[Any, Any, Any], state: State, system: NamedDependency[System]
    ) -> Response[dict[str, Any]]:
        ok, body = await system.health()
        status_code = 200 if ok else 503
        if not has_token(request, state.api_token):
            # open for liveness probes, but chat ids, paths and errors are only for token holders
            return Response({"status": body["status"]}, status_code=status_code)
        return Response(body, status_code=status_code)

    @get("/metrics", media_type=MediaType.TEXT, responses=documented_problems())
    async def metrics(self, system: NamedDependency[System]) -> str:
        return await system.metrics()
