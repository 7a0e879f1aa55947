"""Static NPU operator-compatibility check for exported Paddle inference models and their ONNX.

    python -m npu_overlay.npu_check MODEL_DIR_OR_FILE [--kernels FILE] [--json] [--require-static | --require-single-graph]

or from Python: ``check_model(path, kernels=...) -> Report``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .graph import ModelReadError
from .load import load_graph
from .kernels import KernelList, KernelListError, load_kernel_list
from .report import Report
from .rules import run_checks

__all__ = ["check_model", "default_kernel_list", "BUNDLED_KERNEL_LIST", "Report", "ModelReadError", "KernelListError"]

# paddle-custom-npu's kernel names, committed so the check runs on a clean clone; its header says
# where they come from (the reference copy is ../shared/npu/ beside the repository)
BUNDLED_KERNEL_LIST = Path(__file__).resolve().parent / "data" / "kernels-paddle-custom-npu.txt"


def default_kernel_list() -> Path:
    """$NPU_KERNEL_LIST, else the paddle-custom-npu list committed with this package."""
    override = os.environ.get("NPU_KERNEL_LIST")
    if override:
        return Path(override)
    return BUNDLED_KERNEL_LIST


def check_model(path: str | Path, kernels: str | Path | KernelList | None = None,
                require_static: bool = False, require_single_graph: bool = False) -> Report:
    """Check one export (a model file or its directory). Raises ModelReadError / KernelListError.
    An ONNX model needs no kernel list: its op names are not Paddle kernels."""
    graph = load_graph(path)
    if graph.format == "onnx":
        kernels = KernelList(Path("-"), frozenset())
    elif not isinstance(kernels, KernelList):
        kernels = load_kernel_list(kernels if kernels is not None else default_kernel_list())
    return run_checks(graph, kernels, require_static, require_single_graph)
