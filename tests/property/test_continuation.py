"""Laws of continuation (core.continuation): only opted-in chats, only crashes and restarts, never a cancelled
turn, at most three in a row."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from core.continuation import MAX_ATTEMPTS, Interruption, continuation_of
from core.model import OnInterrupt, Task, TaskStatus

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def chain(length: int, status: TaskStatus) -> tuple[Task, dict[str, Task]]:
    """A user turn followed by ``length`` continuations; the last has ``status``."""
    tasks = [Task(id="t0", chat_id="c", agent="qwen", prompt="do it", created_at=T0, status=TaskStatus.FAILED)]
    for i in range(1, length + 1):
        tasks.append(tasks[0].model_copy(update={"id": f"t{i}", "continues": f"t{i - 1}"}))
    last = tasks[-1].model_copy(update={"status": status})
    return last, {t.id: t for t in tasks}


@given(
    st.integers(0, 6),
    st.sampled_from(list(TaskStatus)),
    st.sampled_from(list(OnInterrupt)),
    st.sampled_from([*Interruption, None]),
)
def test_continues_only_an_interrupted_failure_of_an_opted_in_chat_at_most_three_times(
    length: int, status: TaskStatus, on_interrupt: OnInterrupt, cause: Interruption | None
) -> None:
    task, tasks = chain(length, status)
    prompt = continuation_of(task, on_interrupt, cause, tasks)
    due = (
        on_interrupt is OnInterrupt.CONTINUE
        and cause is not None
        and status is TaskStatus.FAILED
        and length < MAX_ATTEMPTS
    )
    assert (prompt is not None) == due
    if prompt is not None:
        assert "interrupted" in prompt
        assert f"continuation {length + 1} of {MAX_ATTEMPTS}" in prompt


def test_a_cancelled_turn_is_never_continued() -> None:
    task, tasks = chain(0, TaskStatus.CANCELLED)
    assert continuation_of(task, OnInterrupt.CONTINUE, Interruption.AGENT_CRASH, tasks) is None


def test_a_cycle_in_the_links_ends_the_count() -> None:
    a = Task(id="a", chat_id="c", agent="q", prompt="p", created_at=T0, status=TaskStatus.FAILED, continues="b")
    b = a.model_copy(update={"id": "b", "continues": "a"})
    assert continuation_of(a, OnInterrupt.CONTINUE, Interruption.RESTART, {"a": a, "b": b}) is not None
