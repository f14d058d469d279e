"""Turns: submit one to an agent, read them, cancel one, answer an agent's permission question.

A cancel or an answer reaches the turn wherever it is: still queued (dequeued here), on this node (the
``TurnRegistry``), or on another node (relayed through the store, and that node woken through the bus).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from app.ids import new_id
from app.turns.dispatcher import Dispatcher
from app.turns.journal import dequeue
from app.turns.registry import CancelOutcome, TurnRegistry
from app.usecases.chats import Chats
from app.usecases.errors import Refused, ShuttingDown, ok
from core.agents import AgentSpec, ProviderConfig, check_turn_model
from core.errors import Conflict, InvalidInput, NotFound, TooLarge
from core.events import TextDelta
from core.model import Task, TaskOrigin, TaskStatus, TurnRequest, TurnRequestKind
from core.permissions import check_option, open_question_options
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Journal, TaskQueue, TurnRequestRelay

log = logging.getLogger(__name__)

ANNOUNCE_TIMEOUT_S = 5.0


class Turns:
    def __init__(
        self,
        *,
        chats: Chats,
        queue: TaskQueue,
        relay: TurnRequestRelay,
        journal: Journal,
        bus: EventBus,
        registry: TurnRegistry,
        dispatcher: Dispatcher,
        specs: Mapping[str, AgentSpec],
        provider: ProviderConfig,
        clock: Clock,
        node_id: str,
        max_prompt_chars: int,
    ) -> None:
        self._chats = chats
        self._queue = queue
        self._relay = relay
        self._journal = journal
        self._bus = bus
        self._registry = registry
        self._dispatcher = dispatcher
        self._specs = specs
        self._provider = provider
        self._clock = clock
        self._node_id = node_id
        self._max_prompt_chars = max_prompt_chars

    async def submit(self, chat_id: str, agent: str, prompt: str, model: str | None, origin: TaskOrigin) -> Task:
        self.check(agent, prompt, model)
        await self._chats.get_open(chat_id)
        task = Task(
            id=new_id("turn"),
            chat_id=chat_id,
            agent=agent,
            origin=origin,
            prompt=prompt,
            model=model,
            created_at=self._clock.now(),
        )
        submitted = await self._dispatcher.enqueue(task)
        if submitted.status is TaskStatus.QUEUED:
            await self._announce_work()  # the chat may be leased to another node
        return submitted

    def check(self, agent: str, prompt: str, model: str | None) -> None:
        """Refuse a turn that could never run (too long, blank, unknown agent or model, shutting down)."""
        if len(prompt) > self._max_prompt_chars:
            limit = self._max_prompt_chars
            detail = f"the prompt has {len(prompt)} characters; the limit is {limit} (HEARTH_MAX_PROMPT_CHARS)"
            raise Refused(TooLarge(detail=detail, field="prompt", limit=limit))
        if not self._dispatcher.accepting:
            raise ShuttingDown()
        if agent not in self._specs:
            known = ", ".join(sorted(self._specs))
            raise Refused(InvalidInput(detail=f"unknown agent {agent!r}; configured agents: {known}", field="agent"))
        if not prompt.strip():
            raise Refused(InvalidInput(detail="the prompt is empty", field="prompt"))
        ok(check_turn_model(self._specs[agent], self._provider, model))

    async def get(self, chat_id: str, turn_id: str) -> Task:
        task = await self._queue.get_task(turn_id)
        if task is None or task.chat_id != chat_id:
            raise Refused(NotFound(detail=f"turn {turn_id} does not exist in chat {chat_id}", field="turn_id"))
        return task

    async def reply(self, chat_id: str, turn_id: str) -> str:
        """The agent's visible text of the turn so far, deltas concatenated in journal order."""
        await self.get(chat_id, turn_id)
        events = await self._journal.list_events(turn_id)
        return "".join(row.event.text for row in events if isinstance(row.event, TextDelta))

    async def cancel(self, chat_id: str, turn_id: str) -> tuple[Task, str]:
        """The turn as it is now, and what the cancel did: dequeued, interrupting, or already_finished."""
        task = await self.get(chat_id, turn_id)
        if task.status.is_terminal:
            return task, "already_finished"
        if await dequeue(self._queue, self._journal, self._bus, task, self._clock.now()):
            answer = CancelOutcome.DEQUEUED.value
        elif (outcome := await self._registry.cancel(turn_id)) is not CancelOutcome.NOT_RUNNING_HERE:
            answer = outcome.value
        else:
            # it runs on another node, which the announcement wakes to take the request; or it is over already
            answer = "already_finished"
            request = TurnRequest(task_id=turn_id, kind=TurnRequestKind.CANCEL)
            if await self._relay.relay_turn_request(request, self._clock.now()) is not None:
                await self._announce_work()
                answer = CancelOutcome.INTERRUPTING.value
        return (await self._queue.get_task(turn_id)) or task, answer

    async def answer_permission(self, chat_id: str, turn_id: str, request_id: str, option_id: str | None) -> str | None:
        """None when answered here; the node's id when the turn runs on another node (the answer is relayed there)."""
        task = await self.get(chat_id, turn_id)
        if task.status.is_terminal:
            raise Refused(Conflict(detail=f"turn {turn_id} is already {task.status.value}", field="turn.status"))
        # an option the question does not offer is refused before it reaches the agent (OpenCode would take it for
        # "once"); a question answered here already is left to the delivery, which says it no longer waits
        if not self._registry.answered(turn_id, request_id):
            journaled = [row.event for row in await self._journal.list_events(turn_id)]
            ok(check_option(request_id, option_id, open_question_options(journaled, request_id)))
        if await self._registry.answer_permission(turn_id, request_id, option_id):
            return None
        if task.node_id is not None and task.node_id != self._node_id:
            answer = TurnRequest(
                task_id=turn_id, kind=TurnRequestKind.PERMISSION, request_id=request_id, option_id=option_id
            )
            node = await self._relay.relay_turn_request(answer, self._clock.now())
            if node is not None:
                await self._announce_work()
                return node
        detail = f"no permission request {request_id} is waiting in turn {turn_id} (answered or timed out)"
        raise Refused(NotFound(detail=detail, field="request_id"))

    async def _announce_work(self) -> None:
        """Wake every node's dispatcher now; a lost wake-up only costs the next poll."""
        try:
            async with asyncio.timeout(ANNOUNCE_TIMEOUT_S):
                await self._bus.announce_work()
        except Exception as error:
            log.warning(
                "could not wake the other nodes (%s: %s); they find the work at their next poll",
                type(error).__name__,
                error,
            )
