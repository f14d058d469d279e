"""The use cases of a running node, each built with only the ports it needs."""

from __future__ import annotations

from app.bootstrap.adapters import locate_agent
from app.bootstrap.node import Node
from app.usecases.agents import Agents
from app.usecases.arena import Arenas
from app.usecases.bundle import UseCases
from app.usecases.changes import Changes
from app.usecases.chats import Chats
from app.usecases.history import History
from app.usecases.replays import Replays
from app.usecases.streams import EventStreams
from app.usecases.system import NodeFacts, System
from app.usecases.tasks import Tasks
from app.usecases.turns import Turns
from app.version import VERSION


def use_cases_of(node: Node) -> UseCases:
    settings, store, clock = node.settings, node.store, node.clock
    chats = Chats(
        chats=store,
        worktree_rows=store,
        queue=store,
        journal=store,
        pending=store,
        bus=node.bus,
        worktrees=node.worktrees,
        pool=node.pool,
        clock=clock,
    )
    turns = Turns(
        chats=chats,
        queue=store,
        relay=store,
        journal=store,
        bus=node.bus,
        registry=node.registry,
        dispatcher=node.dispatcher,
        specs=node.specs,
        provider=settings.provider,
        clock=clock,
        node_id=settings.node_id,
        max_prompt_chars=settings.max_prompt_chars,
    )
    agents = Agents(
        chats=chats,
        sessions=store,
        history=store,
        specs=node.specs,
        backends=node.backends,
        pool=node.pool,
        locate=locate_agent(settings.agents_dir),
        memory=node.memory,
    )
    facts = NodeFacts(
        version=VERSION,
        node_id=settings.node_id,
        store_kind="postgresql" if settings.database_url else "sqlite",
        started_at=clock.now(),
        health_timeout_s=settings.health_timeout_s,
    )
    system = System(
        facts=facts,
        connection=store,
        queue=store,
        backends=node.backends,
        oneshot_backends=node.oneshot_backends,
        pool=node.pool,
        dispatcher=node.dispatcher,
        registry=node.registry,
        jobs=node.jobs,
        recovery=node.recovery,
        metrics=node.metrics,
        processes=node.processes,
        memory=node.memory,
    )
    streams = EventStreams(queue=store, journal=store, bus=node.bus)
    arenas = Arenas(
        chats=chats,
        arenas=store,
        queue=store,
        journal=store,
        pending=store,
        worktree_rows=store,
        bus=node.bus,
        worktrees=node.worktrees,
        runner=node.contests,
        streams=streams,
        specs=node.specs,
        kind_of=lambda agent: node.backends[agent].kind if agent in node.backends else None,
        provider=settings.provider,
        clock=clock,
        node_id=settings.node_id,
        max_contestants=settings.arena_max_contestants,
        max_prompt_chars=settings.max_prompt_chars,
    )
    return UseCases(
        chats=chats,
        turns=turns,
        changes=Changes(chats=chats, worktree_rows=store, pending=store, worktrees=node.worktrees, clock=clock),
        agents=agents,
        streams=streams,
        system=system,
        replays=Replays(store=store),
        tasks=Tasks(chats=chats, turns=turns, creators=store, worktrees=node.worktrees, clock=clock),
        arenas=arenas,
        history=History(chats=chats, queue=store, journal=store),
    )
