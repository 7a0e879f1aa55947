"""The build tree: opening it, guarding the work in it, what was built there, and the pin checkout.

What apply.py built is recorded in the tree's own git config (`npu-overlay.fingerprint`,
`npu-overlay.head`): the fingerprint says which lock + series the branch was built from,
the head says which commit apply.py left, so any commit made after it is somebody's work.

A build in progress is journalled in `.git/npu-overlay.building`, created once the tree's work
is known to be safe and removed when the build is recorded (or refused with the tree in a
known state). A run that finds it set knows the
tree holds its own half-made work (an interrupted checkout or `git am`, commits not yet
recorded, git's lock files) and clears it away before building again, instead of calling it
the user's. A new tree is initialised aside and renamed into place, so an interrupted first
run leaves either a git tree or nothing.
"""

from __future__ import annotations

import hashlib
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from git import GitCommandError, InvalidGitRepositoryError, NoSuchPathError, Repo

from .errors import BadInput, OverlayError
from .lock import Lock
from .series import Series

BRANCH = "npu-overlay"
STATE = "npu-overlay"  # git config section in the build tree
# bump when the way a tree is built changes, so existing trees get rebuilt
ENGINE_FORMAT = "1"


@dataclass(frozen=True)
class State:
    fingerprint: str | None
    head: str | None


def fingerprint(lock: Lock, series: Series) -> str:
    """What decides the built tree: the pin, the sparse paths, every patch's name and bytes."""
    h = hashlib.sha256(ENGINE_FORMAT.encode())
    h.update(lock.identity().encode() + b"\0" + series.digest().encode())
    return h.hexdigest()


def open_tree(path: Path, create: bool) -> Repo:
    """The git tree at `path`; an empty or absent folder becomes a new one when `create`."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path}: exists and is not a directory")
    if not (path / ".git").exists():
        if path.is_dir() and any(path.iterdir()):
            raise BadInput(f"{path}: exists and is not a git tree (move it away or pick another --tree)")
        if not create:
            raise BadInput(f"{path}: no build tree here (run apply.py first)")
        staging = path.with_name(f".{path.name}.new")
        if staging.exists():  # an init of ours that was interrupted
            shutil.rmtree(staging)
        path.parent.mkdir(parents=True, exist_ok=True)
        Repo.init(staging, initial_branch=BRANCH).close()
        if path.is_dir():
            path.rmdir()  # empty, checked above
        staging.rename(path)
    try:
        repo = Repo(path)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise BadInput(f"{path}: exists and is not a git tree") from None
    if repo.bare or Path(repo.working_tree_dir).resolve() != path.resolve():
        raise BadInput(f"{path}: exists and is not the top of a git tree")
    return repo


def read_state(repo: Repo) -> State:
    def get(key: str) -> str | None:
        try:
            return repo.git.config("--local", "--get", f"{STATE}.{key}") or None
        except GitCommandError:  # not set: a tree apply.py has not built yet
            return None

    return State(get("fingerprint"), get("head"))


def write_state(repo: Repo, fingerprint: str | None, head: str) -> None:
    # fingerprint last but one, head already current: only a finished build reads as built
    repo.git.config("--local", f"{STATE}.fingerprint", fingerprint or "")
    repo.git.config("--local", f"{STATE}.head", head)


def _journal(repo: Repo) -> Path:
    return Path(repo.git_dir) / "npu-overlay.building"


def interrupted_build(repo: Repo) -> bool:
    """A build of ours started in this tree and did not finish."""
    return _journal(repo).exists()


def start_build(repo: Repo) -> None:
    """Journal: from here until finish_build, whatever the tree holds is this engine's work.
    A file, not a config key: creating and removing it cannot be interrupted half-way."""
    _journal(repo).touch()


def finish_build(repo: Repo) -> None:
    _journal(repo).unlink(missing_ok=True)


def clear_stale_locks(repo: Repo) -> None:
    """git's lock files left by the git process killed with an interrupted build."""
    git_dir = Path(repo.git_dir)
    for lock in [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]:
        lock.unlink(missing_ok=True)


def clear_interrupted_build(repo: Repo) -> None:
    """What a killed build leaves: an unfinished `git am`, a half checkout, commits not yet recorded."""
    discard_work(repo)


def branch_tip(repo: Repo) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{BRANCH}")
    except GitCommandError:
        return None


def head_commit(repo: Repo) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "--quiet", "HEAD")
    except GitCommandError:
        return None


def am_in_progress(repo: Repo) -> bool:
    return (Path(repo.git_dir) / "rebase-apply").exists()


def changed_files(repo: Repo) -> list[str]:
    """Uncommitted changes, untracked files included (ignored ones are not work)."""
    status = repo.git.status("--porcelain", "--untracked-files=all")
    return [line[3:] for line in status.splitlines() if line.strip()]


def work_at_risk(repo: Repo, state: State) -> str | None:
    """Why rebuilding the branch would lose somebody's work, or None."""
    if am_in_progress(repo):
        return "a `git am` is in progress (finish it or `git am --abort`)"
    changed = changed_files(repo)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return f"uncommitted changes ({shown})"
    tip = branch_tip(repo)
    if tip and tip != state.head:
        if state.head and _is_ancestor(repo, state.head, tip):
            count = repo.git.rev_list("--count", f"{state.head}..{tip}")
            return f"branch {BRANCH} has {count} commit(s) made after apply.py built it"
        return f"branch {BRANCH} holds commits apply.py did not make"
    if tip and head_commit(repo) != tip:
        return f"HEAD is not on branch {BRANCH} (check out {BRANCH} again)"
    return None


def is_built(repo: Repo, state: State, expected: str) -> bool:
    """Branch checked out, at the commit apply.py left, from the same lock and series, clean."""
    return (
        state.fingerprint == expected
        and repo.head.is_valid()
        and not repo.head.is_detached
        and repo.active_branch.name == BRANCH
        and branch_tip(repo) == state.head
        and not am_in_progress(repo)
        and not changed_files(repo)
    )


def discard_work(repo: Repo) -> None:
    """--force: drop an interrupted am, uncommitted edits and untracked (not ignored) files."""
    if am_in_progress(repo):
        try:
            repo.git.am("--abort")
        except GitCommandError:  # killed before am recorded where it started: drop its state
            shutil.rmtree(Path(repo.git_dir) / "rebase-apply", ignore_errors=True)
    if head_commit(repo):
        repo.git.reset("--hard", "--quiet")
    repo.git.clean("-fdq")


@contextmanager
def removed_on_refusal(repo: Repo, is_new: bool) -> Iterator[None]:
    """Undo open_tree(create=True) when the build is refused before anything was checked out."""
    try:
        yield
    except OverlayError:
        if is_new:
            path = Path(repo.working_tree_dir)
            repo.close()
            shutil.rmtree(path / ".git")
            if not any(path.iterdir()):
                path.rmdir()
        raise


def check_paths_in_pin(repo: Repo, lock: Lock) -> None:
    """A lock path that is not in the pinned tree is a typo (or an upstream move)."""
    tree = repo.commit(lock.commit).tree
    for path in lock.paths + lock.exclude:
        try:
            tree / path
        except KeyError:
            raise BadInput(f"{lock.path}: checkout path {path!r} is not in upstream commit {lock.short}") from None


def checkout_pin(repo: Repo, lock: Lock) -> None:
    """Branch `npu-overlay` at the pin, with only the lock's paths in the working tree."""
    repo.git.sparse_checkout("set", "--no-cone", *lock.sparse_patterns())
    repo.git.checkout("--quiet", "--force", "-B", BRANCH, lock.commit)
    if head_commit(repo) != lock.commit:
        raise OverlayError(f"{repo.working_tree_dir}: checked out {head_commit(repo)}, not the pin {lock.commit}")


def _is_ancestor(repo: Repo, older: str, newer: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", older, newer)
        return True
    except GitCommandError:
        return False
