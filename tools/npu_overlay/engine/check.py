"""Read-only: is this tree exactly the pin plus the series?

The expected tree is computed without touching the build tree: the pin is read into a
throwaway index, the patches applied to that index, and every object git writes on the
way goes to a temporary object directory (the tree's own objects are only read, as
alternates). Then the working tree is compared with it, file by file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from git import GitCommandError, Repo

from .errors import OverlayError, git_stderr
from .lock import Lock
from .series import Series
from .source import has_commit


def differences(repo: Repo, lock: Lock, series: Series) -> list[str]:
    """`<status> <path>` for every file that differs from pin + series; empty when identical."""
    if not has_commit(repo, lock.commit):
        raise OverlayError(f"{repo.working_tree_dir}: does not hold the pinned commit {lock.short} (run apply.py)")
    found = _sparse_differences(repo, lock)
    with tempfile.TemporaryDirectory(prefix="overlay-check-") as scratch:
        objects = {
            "GIT_OBJECT_DIRECTORY": str(Path(scratch, "objects")),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(Path(repo.git_dir, "objects").resolve()),
        }
        expected = _expected_tree(repo, lock, series, {**objects, "GIT_INDEX_FILE": str(Path(scratch, "index"))})
        diff = repo.git.diff("--name-status", "--no-renames", "--no-ext-diff", expected, env=objects)
    found += [" ".join(line.split("\t", 1)) for line in diff.splitlines() if line]
    untracked = repo.git.ls_files("--others", "--exclude-standard")
    found += [f"? {path}" for path in untracked.splitlines() if path]
    return found


def _expected_tree(repo: Repo, lock: Lock, series: Series, env: dict[str, str]) -> str:
    Path(env["GIT_OBJECT_DIRECTORY"]).mkdir()
    repo.git.read_tree(lock.commit, env=env)
    for patch in series.patches:
        try:
            repo.git.apply("--cached", "--whitespace=nowarn", str(patch.path), env=env)
        except GitCommandError as exc:
            reason = git_stderr(exc).strip().splitlines()
            raise OverlayError(
                f"{patch.path}: does not apply to the pin ({reason[-1] if reason else 'git apply failed'})"
            ) from None
    return repo.git.write_tree("--missing-ok", env=env)  # blobs outside the sparse paths stay unfetched


def _sparse_differences(repo: Repo, lock: Lock) -> list[str]:
    """The checked-out paths are part of the tree's identity: a path left out hides its files."""
    try:
        listed = repo.git.sparse_checkout("list").splitlines()
    except GitCommandError:
        listed = []
    if listed != lock.sparse_patterns():
        return [f"sparse paths differ from {lock.path.name}: {' '.join(listed) or '(none)'}"]
    return []
