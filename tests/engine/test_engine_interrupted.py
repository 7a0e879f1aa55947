"""A build killed at any moment (SIGKILL: no cleanup runs) is completed by a plain re-run.

The real `python apply.py` on the fixture upstream is killed when it reaches a given point
(the tree's git directory appears, the pin is fetched, files are checked out, `git am` is
running, a patch is committed but not yet recorded) or after a given time, both on a fresh
tree and while rebuilding an existing one. The plain re-run must finish the build, with the
same commit ids as an uninterrupted build, and `--check` must pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from git import Repo

import apply
from fixture_upstream import write_lock

ROOT = Path(apply.__file__).resolve().parent


def _reflog_lines(tree: Path) -> int:
    try:
        return (tree / ".git" / "logs" / "HEAD").read_bytes().count(b"\n")
    except OSError:
        return 0


# name -> condition on the tree that, once true, triggers the kill
POINTS = {
    "git dir created": lambda t: (t / ".git").exists(),
    "pin fetched": lambda t: (t / ".git" / "shallow").exists(),
    "files checked out": lambda t: (t / "setup.py").exists(),
    "git am running": lambda t: (t / ".git" / "rebase-apply").exists(),
    "first patch committed": lambda t: _reflog_lines(t) >= 2,
    "last patch committed": lambda t: _reflog_lines(t) >= 3,
}
DELAYS = (0.1, 0.3)  # seconds after start, wherever the build is then
# the points a rebuild of an existing tree (the bare pin, already fetched and checked out) passes
REBUILD_POINTS = ("git am running", "first patch committed", "last patch committed")


def _command(project, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "apply.py"), *project.args(*extra)]


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}


def _killed_at(cmd, env, tree: Path, when) -> bool:
    """Start the build, SIGKILL it when ``when`` (a condition or a delay) is met; True if killed."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while proc.poll() is None:
        due = time.monotonic() - start >= when if isinstance(when, float) else when(tree)
        if due:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
    return False


def _rerun_completes(cmd, env, project, expected: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Repo(project.tree).head.commit.hexsha == expected
    assert apply.main(project.args("--check")) == 0  # exactly pin + series, and recorded as built


def _fresh_project(base: Path, upstream, fixture_patches):
    import shutil

    from fixture_upstream import Project

    base.mkdir()
    shutil.copytree(fixture_patches, base / "overlay")
    return Project(base, write_lock(base / "upstream.lock", str(upstream.bare), upstream.pin))


def test_a_killed_build_is_completed_by_a_plain_rerun(upstream, fixture_patches, tmp_path):
    env = _env(tmp_path)
    reference = _fresh_project(tmp_path / "reference", upstream, fixture_patches)
    cmd = _command(reference, "--upstream", str(upstream.bare))
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    expected = Repo(reference.tree).head.commit.hexsha

    scenarios = [(name, POINTS[name], False) for name in POINTS]
    scenarios += [(f"after {delay} s", delay, False) for delay in DELAYS]
    scenarios += [(name, POINTS[name], True) for name in REBUILD_POINTS]
    killed = []
    for n, (label, when, rebuild) in enumerate(scenarios):
        project = _fresh_project(tmp_path / f"p{n}", upstream, fixture_patches)
        cmd = _command(project, "--upstream", str(upstream.bare))
        if rebuild:  # an existing good tree (the bare pin) being rebuilt into pin + series
            assert subprocess.run(cmd + ["--pin-only"], env=env, capture_output=True).returncode == 0
        if _killed_at(cmd, env, project.tree, when):
            killed.append((label, rebuild))
        _rerun_completes(cmd, env, project, expected)
    # every condition above is a moment of every build: all of them must have been hit
    missed = {(label, rebuild) for label, _, rebuild in scenarios if label in POINTS} - set(killed)
    assert not missed, f"kill points never reached: {missed}"
