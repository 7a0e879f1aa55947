"""Simplify the raw conversion with onnxruntime's offline optimisation at the basic level.

The basic level only rewrites the graph with standard ONNX ops (constant folding, Identity
and redundant-node removal, Conv+BatchNorm folding); the extended and layout levels would
write onnxruntime's own ``com.microsoft`` ops, which ATC cannot parse. onnxruntime declares
its private domains in the saved model, so unused opset imports are dropped afterwards.
On SLANet_plus (docs/onnx_export.md) it leaves fewer nodes than onnxslim in a tenth of the
time, and onnxoptimizer's passes take minutes on the 28k-node raw graph.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from npu_overlay.onnx_export import OnnxExportError

STANDARD_DOMAINS = ("", "ai.onnx")


def ort_session(model: str | Path | bytes, threads: int = 2, level=None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # paddle2onnx leaves unused initializers: not worth a warning each
    if level is not None:
        options.graph_optimization_level = level
    source = os.fspath(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def session_open_seconds(model: Path, threads: int = 2) -> float:
    """How long onnxruntime takes to open the model with its default optimisations."""
    start = time.perf_counter()
    ort_session(model, threads)
    return time.perf_counter() - start


def simplify(model):
    """The model after onnxruntime's basic offline optimisation, standard domains only."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise OnnxExportError(f"simplifying needs onnxruntime ({exc}): pip install 'onnxruntime<1.21'") from None
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp, "raw.onnx"), Path(tmp, "basic.onnx")
        onnx.save(model, raw)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = os.fspath(out)
        options.log_severity_level = 3
        ort.InferenceSession(os.fspath(raw), options, providers=["CPUExecutionProvider"])
        simplified = onnx.load(out)
    used = {node.domain for node in simplified.graph.node}
    kept = [op for op in simplified.opset_import if op.domain in used or op.domain in STANDARD_DOMAINS]
    del simplified.opset_import[:]
    simplified.opset_import.extend(kept)
    simplified.producer_name, simplified.producer_version = model.producer_name, model.producer_version
    return simplified
