"""A pristine upstream tree at the pin: the reference the patched tree is compared with.

Checked out sparsely (the code paths named in ``upstream.lock``) from any git history that
holds the pinned commit: ``PADDLEOCR_UPSTREAM`` (a URL or a local mirror) or upstream's URL.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from tools.pipeline import PipelineError

LOCK = Path(__file__).resolve().parents[2] / "upstream.lock"


def read_lock(lock: Path = LOCK) -> dict:
    if not lock.is_file():
        raise PipelineError(f"{lock.name} not found: no pinned upstream commit to build a pristine tree from")
    with lock.open("rb") as fh:
        return tomllib.load(fh)


def pristine_tree(dest: str | os.PathLike, source: str | None = None, lock: Path = LOCK) -> Path:
    """``dest`` holding the pinned commit's code; reused when it is already that commit."""
    import git

    data = read_lock(lock)
    commit = data["upstream"]["commit"]
    source = source or os.environ.get("PADDLEOCR_UPSTREAM") or data["upstream"]["url"]
    dest = Path(dest).resolve()
    if (dest / ".git").exists():
        repo = git.Repo(dest)
        if repo.head.commit.hexsha == commit and not repo.is_dirty(untracked_files=False):
            return dest
        raise PipelineError(f"{dest} exists but is not a clean checkout of the pin {commit[:12]}; remove it")
    if dest.exists() and any(dest.iterdir()):
        raise PipelineError(f"{dest} exists and is not a git checkout; remove it or choose another path")
    checkout = data.get("checkout", {})
    patterns = [f"/{p}" + ("/" if "." not in Path(p).name else "") for p in checkout.get("paths", [])]
    patterns += [f"!/{p}/" for p in checkout.get("exclude", [])]
    try:
        repo = git.Repo.clone_from(source, dest, no_checkout=True, filter="blob:none")
        repo.git.sparse_checkout("set", "--no-cone", *patterns)
        repo.git.checkout(commit)
    except git.GitCommandError as exc:
        raise PipelineError(f"could not check out {commit[:12]} from {source}: "
                            f"{(exc.stderr or str(exc)).strip().splitlines()[-1]}") from None
    return dest
