"""A pristine upstream tree at the pin: the reference the patched tree is compared with.

Built by the overlay engine itself (``apply.py --pin-only``), so it is checked out exactly as
the patched tree is (same lock, same sparse paths), from any git history that holds the
pinned commit: ``source``, else ``PADDLEOCR_UPSTREAM``, else upstream's URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from npu_overlay import REPO_ROOT
from npu_overlay.pipeline import PipelineError

APPLY = REPO_ROOT / "apply.py"


def build_tree(dest: str | os.PathLike, source: str | None = None, pin_only: bool = True) -> Path:
    """``dest`` holding the pin (``pin_only``) or the pin plus the overlay series."""
    cmd = [sys.executable, str(APPLY), "--tree", str(dest)] + (["--pin-only"] if pin_only else [])
    if source:
        cmd += ["--upstream", source]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise PipelineError(lines[-1] if lines else f"apply.py exited {proc.returncode}")
    return Path(dest).resolve()


def pristine_tree(dest: str | os.PathLike, source: str | None = None) -> Path:
    return build_tree(dest, source, pin_only=True)
