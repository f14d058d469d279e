"""Laws of the staging boundary's divergence check (core/boundary.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.boundary import diverged_paths

paths = st.lists(st.sampled_from(["a.txt", "b/c.py", "d", "e.md"]), max_size=6)
blobs = st.dictionaries(st.sampled_from(["a.txt", "b/c.py", "d", "e.md"]), st.one_of(st.none(), st.sampled_from("xyz")))


@given(paths, blobs, blobs)
def test_diverged_are_the_pending_paths_whose_content_differs(
    pending: list[str], at_base: dict[str, str | None], in_checkout: dict[str, str | None]
) -> None:
    found = diverged_paths(pending, at_base, in_checkout)
    assert list(found) == sorted(set(found))  # each once, sorted
    assert set(found) <= set(pending)
    for path in pending:
        assert (path in found) == (at_base.get(path) != in_checkout.get(path))


@given(paths, blobs)
def test_a_checkout_equal_to_the_base_diverges_nowhere(pending: list[str], at_base: dict[str, str | None]) -> None:
    assert diverged_paths(pending, at_base, dict(at_base)) == ()
