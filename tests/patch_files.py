"""Import the new files our overlay patches add, straight from the patch text.

``git apply --include=PATH`` writes just that new file into a scratch directory, so the tests
run exactly the code a patch would put into upstream's tree, without an upstream tree.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

OVERLAY = Path(__file__).resolve().parents[1] / "overlay" / "2.8"


def patch_creating(path: str) -> Path:
    """The one patch of the series that adds the new file ``path``."""
    found = [p for p in sorted(OVERLAY.glob("*.patch"))
             if f"\n--- /dev/null\n+++ b/{path}\n" in p.read_text(encoding="utf-8")]
    assert len(found) == 1, f"expected one patch creating {path} in {OVERLAY}, found {found}"
    return found[0]


def extract(path: str, dest: Path) -> Path:
    """Write the new file ``path`` that a patch of the series creates under ``dest``; return its path."""
    subprocess.run(["git", "apply", f"--include={path}", str(patch_creating(path))],
                   cwd=dest, check=True, capture_output=True)
    out = dest / path
    assert out.is_file(), f"no patch creates {path}"
    return out


def load_module(file: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_static_decoder(dest: Path):
    """The decoding module that patch 0001 adds to upstream's tree."""
    path = "ppocr/modeling/heads/table_static_decode.py"
    return load_module(extract(path, dest), "table_static_decode")
