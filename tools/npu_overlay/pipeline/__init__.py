"""The NPU pipeline: export a table model from an upstream tree, run upstream's predict_table on
a chosen device, record the results, and compare a patched tree against pristine upstream.

    python -m npu_overlay.pipeline --tree build/PaddleOCR --device npu --images DIR --out runs/npu
    python -m npu_overlay.pipeline.regress --tree build/PaddleOCR --device npu --images DIR --out runs/regress
"""

from npu_overlay.cli import ToolError


class PipelineError(ToolError):
    """Bad input or an unusable environment: the CLIs print it as one line and exit 2."""
