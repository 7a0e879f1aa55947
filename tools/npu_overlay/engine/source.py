"""Where the pinned commit comes from, and fetching exactly that commit (partial, shallow).

The pin is content-addressed, so the source is interchangeable: the lock's URL, a
mirror URL, a bare mirror on disk, or a working clone. Only the pinned commit and its
trees are fetched (`--depth=1 --filter=blob:none`); blobs arrive on checkout, for the
sparse paths only. That is what lets a mirror that lacks some blobs outside those paths
serve the build.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from git import GitCommandError, Repo

from .errors import BadInput, git_stderr
from .lock import Lock

ENV_VAR = "PADDLEOCR_UPSTREAM"
REMOTE = "upstream"
# A local upload-pack refuses filtered fetches unless told otherwise; without the filter it
# would try to pack every blob, including ones a partial mirror does not have.
LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"
REMOTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\\]+@[^/\\]+:")  # scheme:// or user@host:path
MISSING_COMMIT = ("not our ref", "couldn't find remote ref", "no such remote ref", "unadvertised object")


@dataclass(frozen=True)
class Source:
    given: str  # as the user wrote it, for messages
    url: str  # what git fetches from
    local: bool


def resolve_source(lock: Lock, override: str | None) -> Source:
    """--upstream beats $PADDLEOCR_UPSTREAM beats the lock's URL."""
    given = override or os.environ.get(ENV_VAR) or lock.url
    if given.startswith("file://"):
        return Source(given, given, local=True)
    if REMOTE_URL.match(given):
        return Source(given, given, local=False)
    path = Path(given).expanduser().resolve()
    if not path.is_dir():
        raise BadInput(f"upstream source {given}: no such directory (expected a URL, a bare git dir or a clone)")
    if not ((path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())):
        raise BadInput(f"upstream source {given}: not a git repository (bare or working clone)")
    return Source(given, path.as_uri(), local=True)


def use_source(repo: Repo, source: Source) -> None:
    """Point the build tree's `upstream` remote at the source; later lazy blob fetches go there too."""
    with repo.config_writer() as config:
        section = f'remote "{REMOTE}"'
        config.set_value(section, "url", source.url)
        if source.local:
            config.set_value(section, "uploadpack", LOCAL_UPLOAD_PACK)
        elif config.has_option(section, "uploadpack"):
            config.remove_option(section, "uploadpack")


def has_commit(repo: Repo, commit: str) -> bool:
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{commit}^{{commit}}") == commit
    except GitCommandError:
        return False


def fetch_pin(repo: Repo, source: Source, lock: Lock) -> None:
    """Fetch the pinned commit by its id; refuse a source that does not have it."""
    try:
        repo.git.fetch("--depth=1", "--filter=blob:none", "--no-tags", "--quiet", REMOTE, lock.commit)
    except GitCommandError as exc:
        stderr = git_stderr(exc)
        if any(marker in stderr for marker in MISSING_COMMIT):
            raise BadInput(
                f"upstream source {source.given} does not have commit {lock.commit} pinned in {lock.path.name}"
            ) from None
        raise BadInput(f"cannot fetch from upstream source {source.given}: {_first_fatal(stderr)}") from None
    if not has_commit(repo, lock.commit):
        raise BadInput(f"upstream source {source.given} did not deliver commit {lock.commit}")


def _first_fatal(stderr: str) -> str:
    """git's own reason comes first; what follows is "could not read from remote" boilerplate."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["git fetch failed"])[0]
