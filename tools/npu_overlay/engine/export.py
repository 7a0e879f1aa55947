"""The branch's commits over the pin as `git format-patch` files, byte-stable.

Unchanged commits must give byte-identical patches on every machine and every run, so
nothing that varies is let in: no real commit id on the From line, no git version
signature, no "[PATCH n/m]" numbering (inserting a patch would touch every subject),
blob ids of fixed length, and no user or system git config (diff.noprefix,
format.signature, diff.algorithm... would all change the bytes).
"""

from __future__ import annotations

import email.utils
import os
import shutil
import tempfile
from pathlib import Path

from git import GitCommandError, Repo

from .buildtree import BRANCH
from .errors import BadInput, OverlayError
from .lock import Lock
from .series import read_series_names, write_series

FORMAT_PATCH_OPTIONS = (
    "--no-signature",
    "--zero-commit",
    "--no-numbered",
    "--abbrev=12",
    "--no-renames",
    "--binary",
    "--no-notes",
    "--no-color",
)
NEUTRAL_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def commits_over_pin(repo: Repo, lock: Lock) -> list[str]:
    """pin..npu-overlay, oldest first; the branch must be a straight line of commits on the pin."""
    try:
        repo.git.merge_base("--is-ancestor", lock.commit, BRANCH)
    except GitCommandError:
        raise OverlayError(f"branch {BRANCH} in {repo.working_tree_dir} is not built on the pin {lock.short}") from None
    if repo.git.rev_list("--merges", f"{lock.commit}..{BRANCH}"):
        raise OverlayError(f"branch {BRANCH} has merge commits; a patch series needs a straight line of commits")
    return repo.git.rev_list("--reverse", f"{lock.commit}..{BRANCH}").split()


def format_patches(repo: Repo, lock: Lock, destination: Path) -> list[str]:
    """Write one NNNN-subject.patch per commit into `destination`; returns the names in order."""
    if not commits_over_pin(repo, lock):
        return []
    output = repo.git.format_patch(
        *FORMAT_PATCH_OPTIONS, "-o", str(destination), f"{lock.commit}..{BRANCH}", env=NEUTRAL_CONFIG
    )
    return [Path(line).name for line in output.splitlines() if line.strip()]


def export_patches(repo: Repo, lock: Lock, destination: Path, author: str | None = None) -> list[str]:
    """--export-patches: into a new or empty folder, never over somebody's files.

    With ``author`` ("Name <email>"), every exported patch names that contributor on its From:
    line (upstream's CLA wants a real person); the series in the overlay keeps its own.
    """
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BadInput(f"{destination}: exists and is not an empty directory")
    destination.mkdir(parents=True, exist_ok=True)
    names = format_patches(repo, lock, destination)
    if author:
        for name in names:
            set_author(destination / name, author)
    return names


def parse_author(text: str) -> str | None:
    """'Name <email>' as a From: header value (RFC 2047 for non-ASCII names), or None if malformed."""
    name, address = email.utils.parseaddr(text)
    if not name.strip() or "@" not in address or address.startswith("@") or address.endswith("@"):
        return None
    return email.utils.formataddr((name.strip(), address), charset="utf-8")


def set_author(path: Path, author: str) -> None:
    """Replace the From: header (and its folded continuation lines) of one patch file."""
    header, blank, body = path.read_bytes().partition(b"\n\n")
    lines, replaced, skipping = [], False, False
    for line in header.split(b"\n"):
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = line.startswith(b"From: ")
        if skipping:
            line, replaced = b"From: " + author.encode("ascii"), True
        lines.append(line)
    if not replaced:
        raise OverlayError(f"{path}: no From: header to set the author on")
    path.write_bytes(b"\n".join(lines) + blank + body)


def refresh_series(repo: Repo, lock: Lock) -> list[str]:
    """--refresh: the branch's commits replace the overlay's series (like `gbp pq export`)."""
    overlay = lock.overlay_dir
    old_names = read_series_names(overlay)
    with tempfile.TemporaryDirectory(prefix="overlay-refresh-") as scratch:
        names = format_patches(repo, lock, Path(scratch))
        for name in names:
            shutil.copyfile(Path(scratch, name), overlay / name)
    for name in set(old_names) - set(names):
        (overlay / name).unlink(missing_ok=True)  # dropped from the branch; git history keeps it
    write_series(overlay, names)
    return names

