"""Running scripts inside an upstream tree, and what a tree supports.

Upstream's scripts and our modules that work on a tree (recording tables, TEDS, the benchmark's
backbone export, parameter names) import ``tools``, ``ppocr`` and ``ppstructure`` from the tree.
Every run is a subprocess with cwd = the tree and the tree first on PYTHONPATH, so the tree's
modules (patched or pristine) are the ones imported, never an installed ``paddleocr``'s; ours run
as ``python -m npu_overlay.…``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from npu_overlay import child_pythonpath
from npu_overlay.pipeline import PipelineError

# files our overlay patches add: their presence says what a tree can do
LOADER_PATCH = "tools/infer/inference_files.py"   # reads inference.json (Paddle 3 export)
EXPORT_PATCH = "tools/export_config.py"           # static input shape, _BASE_ configs
DEVICE_PATCH = "tools/infer/device.py"            # --device and its preflight
PRECISION_PATCH = "tools/infer/precision.py"      # --precision honoured without TensorRT


def check_tree(tree: str | os.PathLike) -> Path:
    tree = Path(tree).resolve()
    for needed in ("tools/export_model.py", "ppstructure/table/predict_table.py"):
        if not (tree / needed).is_file():
            raise PipelineError(f"{tree} is not an upstream PaddleOCR tree (no {needed}); build one with `python apply.py`")
    return tree


def has(tree: Path, patch_file: str) -> bool:
    return (tree / patch_file).is_file()


def tree_env(tree: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # the tree first; PADDLEOCR_TREE_PYTHONPATH adds packages for the tree only (e.g. apted for
    # TEDS); then our package and the caller's path (CANN puts its Python packages there)
    env["PYTHONPATH"] = child_pythonpath(tree, *os.environ.get("PADDLEOCR_TREE_PYTHONPATH", "").split(os.pathsep))
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra or {})
    return env


def run_in_tree(tree: Path, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python argv...`` with cwd = tree; stdout+stderr go to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        return subprocess.run([sys.executable, *argv], cwd=tree, env=tree_env(tree, env), stdout=fh,
                              stderr=subprocess.STDOUT, text=True)


def run_module_in_tree(tree: Path, module: str, args: list[str], log: Path,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run one of our modules (``npu_overlay.…``) against the tree's packages."""
    return run_in_tree(tree, ["-m", module, *args], log, env)


def last_error_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("error:") or "Error" in line.split(":")[0]:
            return line
    return lines[-1] if lines else "(no output)"
