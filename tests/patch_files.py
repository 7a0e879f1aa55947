"""Import the new files our overlay patches add, straight from the patch text.

``git apply --include=PATH`` writes just that new file into a scratch directory, so the tests
run exactly the code a patch would put into upstream's tree, without an upstream tree.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

OVERLAY = Path(__file__).resolve().parents[1] / "overlay" / "2.8"


def series() -> list[Path]:
    """The patch files in the order overlay/2.8/series applies them."""
    names = [line.strip() for line in (OVERLAY / "series").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return [OVERLAY / name for name in names]


def patch_creating(path: str) -> Path:
    """The one patch of the series that adds the new file ``path``."""
    found = [p for p in series() if f"\n--- /dev/null\n+++ b/{path}\n" in p.read_text(encoding="utf-8")]
    assert len(found) == 1, f"expected one patch creating {path} in {OVERLAY}, found {found}"
    return found[0]


def extract(path: str, dest: Path) -> Path:
    """Write the new file ``path`` under ``dest`` as the whole series leaves it: the patch that
    creates it, then every later patch that changes it, in series order. Returns its path."""
    patches = series()
    first = patches.index(patch_creating(path))
    for patch in patches[first:]:
        if f"\n+++ b/{path}\n" in patch.read_text(encoding="utf-8"):
            subprocess.run(["git", "apply", f"--include={path}", str(patch)], cwd=dest, check=True,
                           capture_output=True)
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
