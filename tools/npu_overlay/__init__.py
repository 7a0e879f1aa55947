"""paddleocr-npu-overlay's tools: the overlay engine and the pipeline steps around an upstream tree.

The package is named so that it never shadows upstream PaddleOCR's own ``tools`` package: our
modules and upstream's scripts run in one process, or one tree, without either hiding the other.
"""

from __future__ import annotations

import os
from pathlib import Path

# the folder holding this package (tools/ of the checkout): a child process that runs one of our
# modules needs it on its path when the project is used from a checkout without installing it
PACKAGE_HOME = Path(__file__).resolve().parents[1]
# the checkout: the engine's overlay/ and upstream.lock, the sample tables under tests/data
REPO_ROOT = PACKAGE_HOME.parent


def child_pythonpath(*first: str | os.PathLike) -> str:
    """PYTHONPATH for a child ``python -m npu_overlay.…``: ``first``, this package, then the caller's."""
    entries = [*map(str, first), str(PACKAGE_HOME), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(e for e in entries if e))


def child_env(*first: str | os.PathLike) -> dict[str, str]:
    """The caller's environment with :func:`child_pythonpath`."""
    return {**os.environ, "PYTHONPATH": child_pythonpath(*first)}
