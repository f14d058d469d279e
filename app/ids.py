"""Identifiers made by the shell: short, URL- and branch-safe, roughly time-ordered for humans reading logs."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """``<prefix>-<millis hex><random hex>``: lowercase, no separators git or URLs would object to."""
    return f"{prefix}-{int(time.time() * 1000):x}{secrets.token_hex(4)}"
