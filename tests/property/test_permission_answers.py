"""Laws of checking a permission answer against the journaled question (``core.permissions``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from returns.result import Success

from core.events import PermissionOption, PermissionRequest, PermissionResolved, TextDelta
from core.permissions import check_option, open_question_options

ids = st.text(alphabet="abcdefxyz-_", min_size=1, max_size=8)


def _asked(request_id: str, options: list[str]) -> PermissionRequest:
    listed = tuple(PermissionOption(option_id=o, kind="allow_once", name=o) for o in options)
    return PermissionRequest(session_id="s", turn_id="t", request_id=request_id, title="run", options=listed)


@given(options=st.lists(ids, min_size=1, max_size=4, unique=True), answer=st.one_of(st.none(), ids))
def test_an_open_question_takes_exactly_its_options_or_a_reject(options: list[str], answer: str | None) -> None:
    offered = open_question_options(
        [TextDelta(session_id="s", turn_id="t", part_id="p", text="x"), _asked("r1", options)], "r1"
    )
    assert offered == tuple(options)
    checked = check_option("r1", answer, offered)
    assert isinstance(checked, Success) == (answer is None or answer in options)
    if not isinstance(checked, Success):
        error = checked.failure()
        assert (error.kind, error.field) == ("invalid_input", "option_id")
        assert all(option in error.detail for option in options)


@given(options=st.lists(ids, min_size=1, max_size=4, unique=True), answer=ids)
def test_a_resolved_or_unknown_question_is_left_to_the_delivery(options: list[str], answer: str) -> None:
    resolved = PermissionResolved(session_id="s", turn_id="t", request_id="r1", outcome="allow_once")
    assert open_question_options([_asked("r1", options), resolved], "r1") is None
    assert open_question_options([_asked("r2", options)], "r1") is None
    assert isinstance(check_option("r1", answer, None), Success)
