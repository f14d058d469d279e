"""Tasks: work from outside a chat (202); the task then streams on its chat's usual turn endpoints."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from app.api.dto import TaskSubmit, TaskView, task_json
from app.api.idempotency import Idempotency
from app.api.problems import documented_problems
from app.usecases.tasks import Tasks
from core.model import TaskOrigin


class TaskController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]

    @post(
        "/",
        status_code=202,
        responses={
            202: ResponseSpec(TaskView, description="the queued task and the chat it runs in"),
            **documented_problems(404, 409, 413, 422),
        },
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TaskSubmit],
        tasks: NamedDependency[Tasks],
        idempotency: NamedDependency[Idempotency],
    ) -> Response[dict[str, Any]]:
        async def action() -> tuple[int, dict[str, Any]]:
            submitted = await tasks.submit(
                repo_path=data.repo_path,
                agent=data.agent,
                prompt=data.prompt,
                origin=TaskOrigin(data.origin),
                creator=data.creator,
                model=data.model,
            )
            return 202, task_json(submitted.task, submitted.chat, submitted.chat_created)

        return await idempotency.run(request, action)
