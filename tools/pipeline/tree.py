"""Running upstream's scripts inside an upstream tree, and what a tree supports.

Upstream's scripts import ``tools`` from the tree; so does our repository. Each run is a
subprocess with cwd = the tree and a PYTHONPATH that never names our repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.pipeline import PipelineError

# files our overlay patches add: their presence says what a tree can do
LOADER_PATCH = "tools/infer/inference_files.py"   # reads inference.json (Paddle 3 export)
EXPORT_PATCH = "tools/export_config.py"           # static input shape, _BASE_ configs
DEVICE_PATCH = "tools/infer/device.py"            # --device and its preflight
PRECISION_PATCH = "tools/infer/precision.py"      # --precision honoured without TensorRT

REPO_ROOT = Path(__file__).resolve().parents[2]


def check_tree(tree: str | os.PathLike) -> Path:
    tree = Path(tree).resolve()
    for needed in ("tools/export_model.py", "ppstructure/table/predict_table.py"):
        if not (tree / needed).is_file():
            raise PipelineError(f"{tree} is not an upstream PaddleOCR tree (no {needed}); build one with `python apply.py`")
    return tree


def has(tree: Path, patch_file: str) -> bool:
    return (tree / patch_file).is_file()


def tree_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # keep the caller's path (CANN puts its Python packages there) minus our repository;
    # PADDLEOCR_TREE_PYTHONPATH adds packages for the tree only (e.g. apted for TEDS)
    entries = [os.environ.get("PADDLEOCR_TREE_PYTHONPATH", "")] + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    kept = [e for e in entries if e and Path(e).resolve() != REPO_ROOT]
    env.pop("PYTHONPATH", None)
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra or {})
    return env


def run_in_tree(tree: Path, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python argv...`` with cwd = tree; stdout+stderr go to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        return subprocess.run([sys.executable, *argv], cwd=tree, env=tree_env(env), stdout=fh,
                              stderr=subprocess.STDOUT, text=True)


def run_source_in_tree(tree: Path, source_file: Path, args: list[str], log: Path,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run one of our scripts as ``python -c SOURCE`` so that its own folder is not on sys.path."""
    return run_in_tree(tree, ["-c", source_file.read_text(encoding="utf-8"), *args], log, env)


def last_error_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("error:") or "Error" in line.split(":")[0]:
            return line
    return lines[-1] if lines else "(no output)"
