"""A static ONNX of a table model for Ascend's ATC (``.om``), onnxruntime-cann and upstream's
``--use_onnx``: paddle2onnx conversion of a ``fixed``-decode export, simplification, checks.

    python -m npu_overlay.onnx_export EXPORT_DIR --out model.onnx
    python -m npu_overlay.onnx_export --tree build/PaddleOCR --work runs/onnx --out model.onnx

Exit status: 0 the model passed every check, 1 a check failed (nothing written but the
report), 2 bad input or a missing dependency (one line on stderr, nothing written).
"""

from __future__ import annotations

from npu_overlay.cli import ToolError

# The overrides that make upstream's export_model.py write a decode without control flow
# (patch 0001's fully unrolled `fixed` mode). One place to change when the head's options do.
STATIC_DECODE_OPTIONS = ["Architecture.Head.decode_mode=fixed", "Architecture.Head.decode_unroll=all"]

# Opset range of ATC's ONNX parser, from the CANN "ATC tool" guide, section "ONNX operator
# specifications": CANN 5.0.4 and 6.0.1 accept opset v9-v13 (ONNX 1.8.0); CANN 7.0.0 and
# later accept v9-v18 (ONNX 1.12.0). An op of a newer opset fails in ATC with
# "No parser is registered for Op [..., optype [ai.onnx::17::Conv]]".
ATC_OPSET_MIN = 9
ATC_OPSET_MAX = 18
# The default sits in both ranges, so one file serves CANN 6.x and 7.x+ hosts.
DEFAULT_OPSET = 13

# dynamic control flow and scatter updates: what ATC cannot compile into a static graph
FORBIDDEN_OPS = ("Loop", "If", "Scan", "ScatterND", "ScatterElements", "Scatter")


def in_paddle_order(outputs: list) -> list:
    """An ONNX table model's outputs in Paddle's predictor order, (loc_preds, structure_probs),
    whatever order the converter wrote them in: the boxes (4 or 8 coordinates) are the narrower
    output, the structure (30 or 50 tokens) the wider."""
    return sorted(outputs, key=lambda o: o.shape[-1])


class OnnxExportError(ToolError):
    """Bad input or a missing dependency: the CLI prints it as one line and exits 2."""
