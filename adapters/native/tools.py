"""The native agent's file tools (read, write, edit, list, search), confined to one worktree.

Every path an LLM hands in is checked before use: no ``..`` component, and after resolving symlinks it
must still lie inside the worktree. Anything else is a ``ToolError`` the model sees as the tool result.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_READ_CHARS = 100_000
MAX_LIST_ENTRIES = 500
MAX_SEARCH_MATCHES = 200
MAX_SEARCH_FILE_BYTES = 1_000_000
_SKIPPED_DIRS = {".git", "node_modules", "__pycache__", ".venv"}


class ToolError(Exception):
    """A tool call that cannot be done; the message goes back to the model as the result."""


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_PATH = {"type": "string", "description": "file path relative to the working directory"}
TOOL_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "read": (
        "Read a text file. Optional 1-based line offset and line limit.",
        _schema({"path": _PATH, "offset": {"type": "integer"}, "limit": {"type": "integer"}}, ["path"]),
    ),
    "write": (
        "Create or overwrite a file with the given content (parent folders are created).",
        _schema({"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    ),
    "edit": (
        "Replace old_string with new_string in a file; old_string must match exactly once unless replace_all.",
        _schema(
            {
                "path": _PATH,
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean"},
            },
            ["path", "old_string", "new_string"],
        ),
    ),
    "list": (
        "List a folder (folders end with /).",
        _schema({"path": {**_PATH, "description": "folder, default ."}}, []),
    ),
    "search": (
        "Search file contents with a regular expression; optional folder and file-name glob.",
        _schema({"pattern": {"type": "string"}, "path": _PATH, "glob": {"type": "string"}}, ["pattern"]),
    ),
}


def openai_tools(extra: dict[str, tuple[str, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": name, "description": text, "parameters": schema}}
        for name, (text, schema) in {**TOOL_SCHEMAS, **(extra or {})}.items()
    ]


class Workspace:
    """The worktree the tools may touch, and the tools themselves (blocking; run them off the loop)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._tools: dict[str, Callable[[dict[str, Any]], str]] = {
            "read": self.read_file,
            "write": self.write_file,
            "edit": self.edit_file,
            "list": self.list_folder,
            "search": self.search_files,
        }

    def resolve(self, path: object) -> Path:
        if not isinstance(path, str) or not path.strip():
            raise ToolError("path must be a non-empty string")
        given = Path(path)
        if ".." in given.parts:
            raise ToolError(f"path {path!r} contains '..'; paths must stay inside the working directory")
        target = (given if given.is_absolute() else self.root / given).resolve()
        if target != self.root and self.root not in target.parents:
            raise ToolError(f"path {path!r} is outside the working directory {self.root}")
        return target

    def relative(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix() or "."

    def run(self, name: str, arguments: str) -> str:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; available: {', '.join(self._tools)}")
        try:
            args = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ToolError(f"arguments are not valid JSON: {exc}") from exc
        if not isinstance(args, dict):
            raise ToolError("arguments must be a JSON object")
        try:
            return tool(args)
        except (OSError, UnicodeDecodeError) as exc:
            raise ToolError(f"{name} failed: {exc}") from exc

    def _writable(self, path: object) -> Path:
        target = self.resolve(path)
        if ".git" in target.relative_to(self.root).parts:
            raise ToolError("refusing to modify git's own files")
        return target

    def read_file(self, args: dict[str, Any]) -> str:
        target = self.resolve(args.get("path"))
        if not target.is_file():
            raise ToolError(f"no such file: {self.relative(target)}")
        lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
        offset = max(1, int(args.get("offset") or 1))
        limit = int(args.get("limit") or len(lines))
        text = "".join(lines[offset - 1 : offset - 1 + limit])
        if len(text) > MAX_READ_CHARS:
            return text[:MAX_READ_CHARS] + f"\n[truncated at {MAX_READ_CHARS} characters; use offset/limit]"
        return text

    def write_file(self, args: dict[str, Any]) -> str:
        target = self._writable(args.get("path"))
        content = args.get("content")
        if not isinstance(content, str):
            raise ToolError("content must be a string")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"Wrote {len(content.encode())} bytes to {self.relative(target)}"

    def edit_file(self, args: dict[str, Any]) -> str:
        target = self._writable(args.get("path"))
        old, new = args.get("old_string"), args.get("new_string")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ToolError("old_string (non-empty) and new_string must be strings")
        if not target.is_file():
            raise ToolError(f"no such file: {self.relative(target)}")
        text = target.read_text(encoding="utf-8")
        count = text.count(old)
        if count == 0:
            raise ToolError(f"old_string not found in {self.relative(target)}")
        if count > 1 and not args.get("replace_all"):
            raise ToolError(f"old_string occurs {count} times in {self.relative(target)}; add context or replace_all")
        target.write_text(text.replace(old, new), encoding="utf-8")
        return f"Replaced {count} occurrence(s) in {self.relative(target)}"

    def list_folder(self, args: dict[str, Any]) -> str:
        folder = self.resolve(args.get("path") or ".")
        if not folder.is_dir():
            raise ToolError(f"no such folder: {self.relative(folder)}")
        entries = sorted(
            (f"{child.name}/" if child.is_dir() else child.name)
            for child in folder.iterdir()
            if child.name not in _SKIPPED_DIRS
        )
        shown = entries[:MAX_LIST_ENTRIES]
        more = len(entries) - len(shown)
        return "\n".join(shown) + (f"\n[{more} more entries]" if more else "") if entries else "(empty)"

    def search_files(self, args: dict[str, Any]) -> str:
        try:
            pattern = re.compile(str(args.get("pattern", "")))
        except re.error as exc:
            raise ToolError(f"invalid regular expression: {exc}") from exc
        folder = self.resolve(args.get("path") or ".")
        glob = args.get("glob")
        matches: list[str] = []
        for file in sorted(self._files(folder)):
            if isinstance(glob, str) and glob and not fnmatch.fnmatch(file.name, glob):
                continue
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue  # binary or unreadable: not searchable text
            for number, line in enumerate(lines, 1):
                if pattern.search(line):
                    matches.append(f"{self.relative(file)}:{number}: {line[:300]}")
                    if len(matches) >= MAX_SEARCH_MATCHES:
                        return "\n".join(matches) + f"\n[stopped at {MAX_SEARCH_MATCHES} matches]"
        return "\n".join(matches) if matches else "no matches"

    def _files(self, folder: Path) -> list[Path]:
        if folder.is_file():
            return [folder]
        found = []
        for path in folder.rglob("*"):
            if any(part in _SKIPPED_DIRS for part in path.relative_to(folder).parts):
                continue
            if path.is_symlink() and self.root not in path.resolve().parents:
                continue  # a link out of the worktree is not followed
            if path.is_file() and path.stat().st_size <= MAX_SEARCH_FILE_BYTES:
                found.append(path)
        return found
