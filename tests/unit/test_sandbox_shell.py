"""The sandboxed shell stand-in never runs a command unconfined: it refuses, saying why, with exit code 126."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

from adapters.sandbox.layout import POLICY_VARIABLE
from adapters.sandbox.shell import REFUSED_EXIT
from adapters.sandbox.shim import agent_policy, sandbox_env, write_shims
from core.sandbox import INSIDE_MARK

IDENTITY = (("NAME", "agent"), ("EMAIL", "agent@example.com"))


def _run(shim: Path, env: dict[str, str], cwd: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(shim / "bash"), "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_a_policy_it_refuses(tmp_path: Path) -> None:
    policy = agent_policy(tmp_path / "agents" / "x", tmp_path / "worktrees")
    write_shims(policy, os.defpath)
    env = {key: value for key, value in os.environ.items() if key not in (POLICY_VARIABLE, INSIDE_MARK)}
    done = _run(Path(policy.shim_dir), env, tmp_path, f"touch {tmp_path}/made")
    assert done.returncode == REFUSED_EXIT
    assert f"{POLICY_VARIABLE} is not set" in done.stderr
    assert not (tmp_path / "made").exists()


def test_without_bubblewrap_it_refuses_and_names_the_package(tmp_path: Path) -> None:
    policy = agent_policy(tmp_path / "agents" / "x", tmp_path / "worktrees")
    broken = dataclasses.replace(policy, bwrap=str(tmp_path / "no-such-bwrap"))
    env = {**os.environ, **sandbox_env(broken, os.environ.get("PATH", os.defpath))}
    env.pop(INSIDE_MARK, None)
    done = _run(Path(broken.shim_dir), env, tmp_path, f"touch {tmp_path}/made")
    assert done.returncode == REFUSED_EXIT
    assert "apt-get install bubblewrap" in done.stderr
    assert not (tmp_path / "made").exists()


def test_outside_any_worktree_only_the_agent_dirs_are_writable(tmp_path: Path) -> None:
    policy = agent_policy(tmp_path / "agents" / "x", tmp_path / "worktrees")
    env = {**os.environ, **sandbox_env(policy, os.environ.get("PATH", os.defpath))}
    env.pop(INSIDE_MARK, None)
    done = _run(Path(policy.shim_dir), env, tmp_path, f"touch $TMPDIR/ok && touch {tmp_path}/made")
    assert "Read-only file system" in done.stderr
    assert (Path(policy.tmp_dir) / "ok").exists()
    assert not (tmp_path / "made").exists()


def test_a_command_cannot_rewrite_the_stand_ins(tmp_path: Path) -> None:
    policy = agent_policy(tmp_path / "agents" / "x", tmp_path / "worktrees")
    env = {**os.environ, **sandbox_env(policy, os.environ.get("PATH", os.defpath))}
    env.pop(INSIDE_MARK, None)
    stand_in = Path(policy.shim_dir) / "bash"
    before = stand_in.read_text()
    done = _run(Path(policy.shim_dir), env, tmp_path / "agents" / "x", f"echo 'exec /bin/bash \"$@\"' > {stand_in}")
    assert "Read-only file system" in done.stderr
    assert stand_in.read_text() == before


def test_a_worktree_s_plan_is_kept_and_the_next_command_there_is_confined_alike(tmp_path: Path) -> None:
    repo, worktree = tmp_path / "repo", tmp_path / "worktrees" / "repo" / "chat-1"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "base"], check=True)
    subprocess.run([*git, "-C", str(repo), "worktree", "add", "-q", str(worktree), "-b", "chat-1"], check=True)
    policy = agent_policy(tmp_path / "agents" / "x", tmp_path / "worktrees")
    env = {**os.environ, **sandbox_env(policy, os.environ.get("PATH", os.defpath))}
    env.pop(INSIDE_MARK, None)
    env.update({f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in IDENTITY})
    plan = Path(policy.shim_dir) / "plans" / "repo" / "chat-1.bash"
    for attempt in ("first", "second"):  # the first plans in Python; the second sources the plan from sh
        done = _run(
            Path(policy.shim_dir),
            env,
            worktree,
            f"echo {attempt} >> inside.txt && git add inside.txt && git commit -q -m {attempt} && "
            f"touch {repo}/escaped-{attempt}",
        )
        assert plan.is_file(), done.stderr
        assert "Read-only file system" in done.stderr
        assert not (repo / f"escaped-{attempt}").exists()
    assert (worktree / "inside.txt").read_text() == "first\nsecond\n"
    log = subprocess.run(["git", "-C", str(worktree), "log", "--format=%s"], capture_output=True, text=True)
    assert log.stdout.split() == ["second", "first", "base"]
    sandbox_env(policy, os.defpath)  # an agent (re)spawn forgets every plan: they are made again
    assert not plan.exists()
