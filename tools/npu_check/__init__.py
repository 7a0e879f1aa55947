"""Static NPU operator-compatibility check for exported Paddle inference models and their ONNX.

    python -m tools.npu_check MODEL_DIR_OR_FILE [--kernels FILE] [--json] [--require-static]

or from Python: ``check_model(path, kernels=...) -> Report``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .graph import ModelReadError, load_graph
from .kernels import KernelList, KernelListError, load_kernel_list
from .report import Report
from .rules import run_checks

__all__ = ["check_model", "default_kernel_list", "Report", "ModelReadError", "KernelListError"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_kernel_list() -> Path:
    """$NPU_KERNEL_LIST, else the paddle-custom-npu list in the ``shared`` folder beside the repository."""
    override = os.environ.get("NPU_KERNEL_LIST")
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "npu" / "kernels-paddle-custom-npu.txt"


def check_model(path: str | Path, kernels: str | Path | KernelList | None = None,
                require_static: bool = False) -> Report:
    """Check one export (a model file or its directory). Raises ModelReadError / KernelListError.
    An ONNX model needs no kernel list: its op names are not Paddle kernels."""
    graph = load_graph(path)
    if graph.format == "onnx":
        kernels = KernelList(Path("-"), frozenset())
    elif not isinstance(kernels, KernelList):
        kernels = load_kernel_list(kernels if kernels is not None else default_kernel_list())
    return run_checks(graph, kernels, require_static)
