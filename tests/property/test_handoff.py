"""Laws of the history budget: what a turn hands its agent is the newest run of turns that fits, never more, and
every turn it leaves out is counted and said."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.handoff import HistoryBudget, entry_size, fit_budget, left_out_note
from core.model import TaskStatus, TranscriptEntry
from core.routing import PREAMBLE_MAX_TURNS, handoff_preamble

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
AGENTS = ["opencode", "qwen", "native"]


@st.composite
def windows(draw: st.DrawFn) -> list[TranscriptEntry]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(AGENTS), st.text(max_size=300), st.text(max_size=600), st.sampled_from(TaskStatus)
            ),
            max_size=30,
        )
    )
    return [
        TranscriptEntry(task_id=f"t{n}", agent=agent, prompt=prompt, reply=reply, status=status)
        for n, (agent, prompt, reply, status) in enumerate(rows)
    ]


budgets = st.builds(
    HistoryBudget, max_turns=st.integers(min_value=0, max_value=40), max_chars=st.integers(min_value=0, max_value=5000)
)


@RELAXED
@given(windows(), st.integers(min_value=0, max_value=10_000), budgets)
def test_the_kept_turns_are_the_newest_run_that_fits_and_the_rest_are_counted(
    entries: list[TranscriptEntry], earlier: int, budget: HistoryBudget
) -> None:
    kept, omitted = fit_budget(entries, earlier, budget)
    assert list(kept) == entries[len(entries) - len(kept) :]  # a suffix: the newest, with no gap
    assert len(kept) <= budget.max_turns
    assert sum(entry_size(entry) for entry in kept) <= budget.max_chars
    assert omitted == earlier + len(entries) - len(kept)
    if len(kept) < min(len(entries), budget.max_turns):  # it stopped early: the next older turn did not fit
        nxt = entries[len(entries) - len(kept) - 1]
        assert sum(entry_size(entry) for entry in kept) + entry_size(nxt) > budget.max_chars


@RELAXED
@given(st.integers(min_value=-5, max_value=10_000))
def test_a_history_says_when_it_leaves_turns_out(omitted: int) -> None:
    note = left_out_note(omitted)
    assert (note is None) == (omitted <= 0)
    if note is not None:
        assert f"{omitted} earlier turn" in note


@RELAXED
@given(windows(), st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=20_000))
def test_a_preamble_keeps_to_its_budget_and_counts_every_turn_it_leaves_out(
    entries: list[TranscriptEntry], earlier: int, max_chars: int
) -> None:
    preamble = handoff_preamble("claude", entries, None, include_own=True, earlier=earlier, max_chars=max_chars)
    assert (preamble is None) == (not entries and earlier == 0)
    if preamble is None:
        return
    lines = preamble.splitlines()
    shown = [line for line in lines if re.match(r"^\d+\. ", line)]
    assert len(shown) <= PREAMBLE_MAX_TURNS
    body = preamble[preamble.index(shown[0]) :] if shown else ""
    assert len(body) <= max_chars
    omitted = earlier + len(entries) - len(shown)
    assert (f"({omitted} earlier turn" in preamble) == (omitted > 0)
    # the turns are numbered as in the whole chat: the first shown follows the ones left out
    if shown:
        assert shown[0].startswith(f"{omitted + 1}. ")
