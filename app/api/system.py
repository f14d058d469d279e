"""Agents, health and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from returns.pipeline import is_successful

from adapters.agent_install import resolve_command
from app.api.auth import has_token
from app.bootstrap import Service
from app.metrics import render, sample_process
from core.agents import model_per_turn
from core.model import BackendKind


def agents_json(service: Service) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, spec in sorted(service.specs.items()):
        if spec.backend is BackendKind.NATIVE:
            found, where = True, "built in"
        else:
            resolved = resolve_command(spec, service.settings.agents_dir)
            found = is_successful(resolved)
            where = str(resolved.unwrap()) if found else resolved.failure().detail
        out.append(
            {
                "name": name,
                "backend": spec.backend.value,
                "found": found,
                "path" if found else "problem": where,
                "provider": spec.provider,
                "permission": spec.permission,
                "capabilities": {
                    "warm": spec.backend is not BackendKind.ONE_SHOT,
                    "one_shot": spec.backend is BackendKind.WARM_ACP,
                    "cancel": True,
                    "resume": spec.backend is not BackendKind.ONE_SHOT,
                    "model_per_turn": model_per_turn(spec),
                },
                "live_sessions": service.pool.live_counts().get(name, 0),
            }
        )
    return out


class SystemController(Controller):
    tags = ["system"]

    @get("/api/agents")
    async def agents(self, service: NamedDependency[Service]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(agents_json, service)

    @get(
        "/api/health",
        responses={503: ResponseSpec(dict[str, Any], description="the store cannot be reached: hearth cannot work")},
    )
    async def health(
        self, request: Request[Any, Any, Any], service: NamedDependency[Service]
    ) -> Response[dict[str, Any]]:
        try:
            async with asyncio.timeout(service.settings.health_timeout_s):
                await service.store.ping()
            store: dict[str, Any] = {"ok": True}
        except Exception as exc:
            store = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        status_code = 200 if store["ok"] else 503
        if not has_token(request, service.settings.api_token):
            # open for liveness probes, but chat ids, paths and errors are only for token holders
            return Response({"status": "ok" if store["ok"] else "degraded"}, status_code=status_code)
        body = {
            "status": "ok" if store["ok"] else "degraded",
            "node_id": service.settings.node_id,
            "started_at": service.started_at.isoformat(),
            "store": {**store, "kind": "postgresql" if service.settings.database_url else "sqlite"},
            "agents": {name: backend.kind.value for name, backend in service.backends.items()},
            "pool": {
                "live": service.pool.snapshot(),
                "max_live": service.pool.max_live,
                "idle_ttl_s": service.pool.idle_ttl_s,
            },
            "dispatcher": {
                "accepting": service.dispatcher.accepting,
                "running_turns": service.dispatcher.inflight_count(),
                "max_parallel_turns": service.dispatcher.max_parallel,
            },
            "jobs": service.jobs.state(),
            "recovery": {
                "failed_turns": service.recovery.failed_turns,
                "stopped_processes": service.recovery.stopped_processes,
            },
        }
        return Response(body, status_code=status_code)

    @get("/metrics", media_type=MediaType.TEXT)
    async def metrics(self, service: NamedDependency[Service]) -> str:
        counts = {status.value: n for status, n in (await service.store.count_tasks_by_status()).items()}
        samples = [
            sample
            for _, backend in service.all_backends()
            for info in backend.processes()
            if (sample := sample_process(info.agent, info.pid)) is not None
        ]
        return render(service.metrics, service.pool.live_counts(), counts, samples)
