"""Apply the series as commits, one per patch, all or nothing.

`git am` semantics without its fallbacks: no three-way merge (upstream drift must fail
loudly, not merge), no whitespace fixing (the tree must be exactly what the patch says).
The committer is the patch author at the patch date, so the same pin and series give the
same commit ids on every machine, and a machine without a git identity can build.
"""

from __future__ import annotations

import re
from typing import Callable

from git import GitCommandError, Repo

from .errors import OverlayError, git_stderr
from .series import Patch, Series

AM_OPTIONS = ("--no-3way", "--whitespace=nowarn", "--committer-date-is-author-date", "--keep-cr", "--quiet")
FAILED_HUNK = re.compile(r"patch failed: (?P<file>.+):(?P<line>\d+)$", re.MULTILINE)


def apply_series(repo: Repo, series: Series, committed: Callable[[str], None]) -> None:
    """Commit each patch in order; `committed` hears every new head (so a failure leaves a known state)."""
    for patch in series.patches:
        before = repo.head.commit.hexsha
        try:
            repo.git.am(*AM_OPTIONS, str(patch.path), env=_committer(patch))
        except GitCommandError as exc:
            _abort(repo, before)
            raise OverlayError(
                f"{patch.path}: does not apply ({_what_failed(patch, git_stderr(exc))}); "
                f"the tree is left at {_describe(repo, before)}"
            ) from None
        committed(repo.head.commit.hexsha)


def _committer(patch: Patch) -> dict[str, str]:
    return {"GIT_COMMITTER_NAME": patch.author_name, "GIT_COMMITTER_EMAIL": patch.author_email}


def _abort(repo: Repo, before: str) -> None:
    """Back to the last good commit, with a clean working tree."""
    try:
        repo.git.am("--abort")
    except GitCommandError:
        pass  # am may have stopped before it started a session
    repo.git.reset("--hard", "--quiet", before)


def _what_failed(patch: Patch, stderr: str) -> str:
    """Name the file and the hunk git could not place, in the words of the patch."""
    match = FAILED_HUNK.search(stderr)
    if match:
        path, line = match["file"], match["line"]
        hunk = _hunk_header(patch, path, line)
        return f"{path}: hunk {hunk or '@@ -' + line} no longer matches upstream"
    errors = [line.removeprefix("error: ").strip() for line in stderr.splitlines() if line.startswith("error:")]
    if errors:
        return "; ".join(errors)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "git am failed"


def _hunk_header(patch: Patch, path: str, line: str) -> str | None:
    text = patch.data.decode("utf-8", "replace")
    section = re.search(rf"^diff --git a/{re.escape(path)} b/.*?(?=^diff --git |\Z)", text, re.MULTILINE | re.DOTALL)
    if not section:
        return None
    hunk = re.search(rf"^@@ -{line}(,\d+)? \+\d+(,\d+)? @@.*$", section.group(0), re.MULTILINE)
    return hunk.group(0).strip() if hunk else None


def _describe(repo: Repo, commit: str) -> str:
    return f"{commit[:12]} ({repo.commit(commit).summary})"
