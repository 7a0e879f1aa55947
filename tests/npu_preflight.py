"""Patch 0009's NPU preflight for table models, as the offline and upstream tests run it.

The patch's new file and the loader file it imports (patch 0002) are taken from the patch text
into a scratch `tools/infer/`, and run in a subprocess the way the predictors call them: the
arguments as `--device npu` leaves them (use_npu=True), since this host has no NPU to resolve.
"""

from __future__ import annotations

import subprocess
import sys

from npu_overlay.engine.patch_files import extract

PREFLIGHT = """
import argparse, sys
from tools.infer import static_shape_check
print(static_shape_check.dynamic_shape_findings(sys.argv[1]))
args = argparse.Namespace(table_model_dir=sys.argv[1], use_npu=sys.argv[2] == "npu")
assert static_shape_check.refuse_dynamic_table_model_on_npu(args) is args
print("passed")
"""


def scratch_tree_at(root):
    """The preflight's files, as the patches write them, under ``root``."""
    extract("tools/infer/static_shape_check.py", root)
    extract("tools/infer/inference_files.py", root)
    for package in ("tools", "tools/infer"):
        (root / package / "__init__.py").write_text("")
    return root


def preflight(tree, model_dir, device: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PREFLIGHT, str(model_dir), device],
                          cwd=tree, capture_output=True, text=True)
