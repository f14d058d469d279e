"""Small pure helpers of the API layer."""

from __future__ import annotations

import pytest

from app.api.auth import InsecureBinding, check_binding, is_loopback
from app.api.sse import parse_last_event_id


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("", 0), ("17", 17), ("-3", 0), ("abc", 0)])
def test_last_event_id_parsing(value: str | None, expected: int) -> None:
    assert parse_last_event_id(value) == expected


def test_loopback_detection_and_binding_rule() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.org")
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", "token")
    with pytest.raises(InsecureBinding):
        check_binding("0.0.0.0", None)
