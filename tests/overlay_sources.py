"""Test helper: the files our overlay patches add, read straight from the series.

New modules that a patch adds are this team's code; offline tests load them from the
patch text, so they test exactly what `apply.py` puts into the upstream tree.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

OVERLAY = Path(__file__).resolve().parents[1] / "overlay" / "2.8"


def added_file(path_in_tree: str) -> str:
    """Content of a file that one patch of the series creates."""
    header = f"diff --git a/{path_in_tree} b/{path_in_tree}\nnew file mode"
    for line in (OVERLAY / "series").read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        text = (OVERLAY / name).read_text()
        start = text.find(header)
        if start < 0:
            continue
        body = text[start:].split("\n@@ ", 1)[1].split("\n", 1)[1]
        lines = []
        for line in body.split("\n"):
            if not line.startswith("+"):  # end of the hunk (next diff, or the patch's end)
                break
            lines.append(line[1:])
        return "\n".join(lines) + "\n"
    raise LookupError(f"no patch in {OVERLAY / 'series'} adds {path_in_tree}")


def load_added_module(path_in_tree: str) -> types.ModuleType:
    """Import a Python file that the series adds, under a private module name."""
    name = "overlay_" + re.sub(r"\W", "_", path_in_tree)
    module = types.ModuleType(name)
    module.__file__ = path_in_tree
    exec(compile(added_file(path_in_tree), path_in_tree, "exec"), module.__dict__)
    sys.modules[name] = module
    return module
