"""Pending changes of a chat: list, apply, discard, and manual edits."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.api.dto import FileEdit, PathsRequest, change_json
from app.api.idempotency import Idempotency
from app.api.problems import documented_problems
from app.usecases.changes import Changes


class ChangesController(Controller):
    path = "/api/chats/{chat_id:str}"
    tags = ["changes"]

    @get("/changes", responses=documented_problems(404))
    async def list_changes(self, chat_id: FromPath[str], changes: NamedDependency[Changes]) -> dict[str, Any]:
        pending = await changes.pending(chat_id)
        agents = list(dict.fromkeys(a for c in pending for a in c.contributors))
        return {"chat_id": chat_id, "changes": [change_json(c) for c in pending], "contributors": agents}

    @get("/changes/boundary", responses=documented_problems(404))
    async def staging_boundary(self, chat_id: FromPath[str], changes: NamedDependency[Changes]) -> dict[str, Any]:
        """The staging boundary: pending changes live in the chat's worktree and reach the checkout only when
        applied; the base they are diffed against, the checkout's HEAD, and the pending files the checkout changed
        since the base (``diverged``: an apply would conflict there)."""
        found = await changes.boundary(chat_id)
        return {"chat_id": chat_id, **found.model_dump(mode="json")}

    @post("/changes/apply", status_code=200, responses=documented_problems(404, 409, 422))
    async def apply_changes(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        changes: NamedDependency[Changes],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[PathsRequest | None] = None,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            paths = data.paths if data is not None else None
            worktree = await changes.apply(chat_id, paths)
            return 200, {"applied": paths or "all", "base_commit": worktree.base_commit}

        return await idempotency.run(request, action)

    @post("/changes/discard", status_code=200, responses=documented_problems(404, 409, 422))
    async def discard_changes(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        changes: NamedDependency[Changes],
        idempotency: NamedDependency[Idempotency],
        data: JSONBody[PathsRequest | None] = None,
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            paths = data.paths if data is not None else None
            await changes.discard(chat_id, paths)
            return 200, {"discarded": paths or "all"}

        return await idempotency.run(request, action)

    @put("/files", responses=documented_problems(404, 409, 422))
    async def edit_file(
        self,
        request: Request[Any, Any, Any],
        chat_id: FromPath[str],
        data: JSONBody[FileEdit],
        changes: NamedDependency[Changes],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            pending = await changes.edit_file(chat_id, data.path, data.content)
            return 200, {"chat_id": chat_id, "changes": [change_json(c) for c in pending]}

        return await idempotency.run(request, action)
