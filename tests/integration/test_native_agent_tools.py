"""The native agent's file tools on a real directory: read, write, edit, list, search and confinement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.native.tools import ToolError, Workspace, openai_tools


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "wt"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 1\n\nprint(main())\n")
    (root / "README.md").write_text("# demo\nmain entry\n")
    (root / ".git").write_text("gitdir: /elsewhere\n")
    return Workspace(root)


def call(workspace: Workspace, name: str, **args: object) -> str:
    return workspace.run(name, json.dumps(args))


def test_tool_schemas_name_the_five_tools_with_a_path_property() -> None:
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in openai_tools()}
    assert sorted(tools) == ["edit", "list", "read", "search", "write"]
    assert "path" in tools["write"]["properties"]
    assert tools["write"]["required"] == ["path", "content"]


def test_read_whole_file_and_a_line_window(workspace: Workspace) -> None:
    assert call(workspace, "read", path="src/app.py").startswith("def main():")
    assert call(workspace, "read", path="src/app.py", offset=2, limit=1) == "    return 1\n"
    with pytest.raises(ToolError, match="no such file"):
        call(workspace, "read", path="src/missing.py")


def test_edit_replaces_exactly_one_match_unless_told_otherwise(workspace: Workspace) -> None:
    assert call(workspace, "edit", path="src/app.py", old_string="return 1", new_string="return 2") == (
        "Replaced 1 occurrence(s) in src/app.py"
    )
    assert "return 2" in (workspace.root / "src" / "app.py").read_text()
    with pytest.raises(ToolError, match="occurs 2 times"):
        call(workspace, "edit", path="src/app.py", old_string="main", new_string="run")
    call(workspace, "edit", path="src/app.py", old_string="main", new_string="run", replace_all=True)
    assert "main" not in (workspace.root / "src" / "app.py").read_text()
    with pytest.raises(ToolError, match="not found"):
        call(workspace, "edit", path="src/app.py", old_string="absent", new_string="x")


def test_list_marks_folders_and_hides_git(workspace: Workspace) -> None:
    assert call(workspace, "list").splitlines() == ["README.md", "src/"]
    assert call(workspace, "list", path="src") == "app.py"


def test_search_finds_lines_with_a_glob_filter(workspace: Workspace) -> None:
    assert call(workspace, "search", pattern="main").splitlines() == [
        "README.md:2: main entry",
        "src/app.py:1: def main():",
        "src/app.py:4: print(main())",
    ]
    assert call(workspace, "search", pattern="main", glob="*.md") == "README.md:2: main entry"
    assert call(workspace, "search", pattern="nothing here") == "no matches"
    with pytest.raises(ToolError, match="invalid regular expression"):
        call(workspace, "search", pattern="(")


def test_search_does_not_follow_links_out_of_the_worktree(workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("main secret\n")
    (workspace.root / "link").symlink_to(secret, target_is_directory=True)

    assert "secret" not in call(workspace, "search", pattern="main")


def test_write_creates_folders_and_rejects_escapes(workspace: Workspace, tmp_path: Path) -> None:
    assert call(workspace, "write", path="a/b/c.txt", content="hi") == "Wrote 2 bytes to a/b/c.txt"
    assert (workspace.root / "a" / "b" / "c.txt").read_text() == "hi"
    absolute_inside = str(workspace.root / "d.txt")
    assert call(workspace, "write", path=absolute_inside, content="") == "Wrote 0 bytes to d.txt"
    with pytest.raises(ToolError, match=r"contains '\.\.'"):
        call(workspace, "write", path="a/../../x.txt", content="x")
    with pytest.raises(ToolError, match="outside the working directory"):
        call(workspace, "write", path=str(tmp_path / "x.txt"), content="x")
    with pytest.raises(ToolError, match="git's own files"):
        call(workspace, "write", path=".git", content="x")
    assert not (tmp_path / "x.txt").exists()


def test_bad_calls_explain_themselves(workspace: Workspace) -> None:
    with pytest.raises(ToolError, match="unknown tool 'bash'"):
        workspace.run("bash", "{}")
    with pytest.raises(ToolError, match="not valid JSON"):
        workspace.run("read", "{path")
    with pytest.raises(ToolError, match="non-empty string"):
        call(workspace, "read", path="")
    with pytest.raises(ToolError, match="content must be a string"):
        call(workspace, "write", path="x", content=3)
