"""The new files our patches add to upstream, straight from the patch text, without a tree.

``git apply --include=PATH`` writes just that file into a scratch folder, so the caller runs
exactly the code the series would put into upstream's tree: the tests of the patches' new files,
and the benchmark, which configures its predictors with patch 0002's own function.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from npu_overlay import REPO_ROOT
from npu_overlay.engine.lock import load_lock
from npu_overlay.engine.series import read_series_names


def overlay_dir() -> Path:
    """The overlay line upstream.lock names (overlay/2.8)."""
    return load_lock(REPO_ROOT / "upstream.lock").overlay_dir


def series_files(directory: Path | None = None) -> list[Path]:
    """The patch files in the order the series applies them."""
    directory = directory or overlay_dir()
    return [directory / name for name in read_series_names(directory)]


def patch_creating(path: str) -> Path:
    """The one patch of the series that adds the new file ``path``."""
    found = [p for p in series_files() if f"\n--- /dev/null\n+++ b/{path}\n" in p.read_text(encoding="utf-8")]
    if len(found) != 1:
        raise LookupError(f"expected one patch of the series creating {path}, found {len(found)}")
    return found[0]


def extract(path: str, dest: Path) -> Path:
    """Write the new file ``path`` under ``dest`` as the whole series leaves it: the patch that
    creates it, then every later patch that changes it, in series order. Returns its path."""
    patches = series_files()
    for patch in patches[patches.index(patch_creating(path)):]:
        if f"\n+++ b/{path}\n" in patch.read_text(encoding="utf-8"):
            subprocess.run(["git", "apply", f"--include={path}", str(patch)], cwd=dest, check=True,
                           capture_output=True)
    return dest / path


def load_module(file: Path, name: str):
    """A module from a file of its own (the patches' new files import only the stdlib at load time)."""
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
