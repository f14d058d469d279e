"""Keeping an agent inside its worktree: which paths a tool call touches, and the ``auto`` permission choice.

Options are chosen by their ``kind`` (allow_once, reject_once, ...), never by id: every agent names them
differently (qwen, Claude Code and gemini each use their own ids).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_PATH_KEYS = ("file_path", "filePath", "absolute_path", "path", "notebook_path")
_ALLOW_KINDS = ("allow_once", "allow_always")
_REJECT_KINDS = ("reject_once", "reject_always")


def inside(root: str, path: str) -> Path | None:
    """``path`` (absolute, or relative to ``root``) resolved with symlinks, if it stays inside ``root``."""
    base = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(Path(root, path)))
    if candidate == base or base in candidate.parents:
        return candidate
    return None


def touched_paths(tool_call: Mapping[str, Any]) -> list[str]:
    """Every file path a tool call (ACP camelCase dict) names: locations, raw input keys, diff contents."""
    found: list[str] = []
    for location in tool_call.get("locations") or ():
        if isinstance(location, Mapping) and isinstance(location.get("path"), str):
            found.append(location["path"])
    raw = tool_call.get("rawInput")
    if isinstance(raw, Mapping):
        found.extend(raw[key] for key in _PATH_KEYS if isinstance(raw.get(key), str))
    for item in tool_call.get("content") or ():
        if isinstance(item, Mapping) and item.get("type") == "diff" and isinstance(item.get("path"), str):
            found.append(item["path"])
    return list(dict.fromkeys(found))


def outside_paths(root: str, tool_call: Mapping[str, Any]) -> list[str]:
    return [path for path in touched_paths(tool_call) if inside(root, path) is None]


def pick_option(options: Sequence[Mapping[str, Any]], allow: bool) -> str | None:
    """The option id of the first option of the wanted kind (once before always); None: nothing fits."""
    return _first_of_kinds(options, _ALLOW_KINDS if allow else _REJECT_KINDS)


def _first_of_kinds(options: Iterable[Mapping[str, Any]], kinds: Sequence[str]) -> str | None:
    listed = list(options)
    for kind in kinds:
        for option in listed:
            if option.get("kind") == kind and isinstance(option.get("optionId"), str):
                return str(option["optionId"])
    return None
