"""int8 post-training static quantization of a static ONNX table model, in the QDQ form that
Ascend's AMCT (``convert_qat_model``) and then ATC take, measured on structure accuracy and
onnxruntime CPU latency against the fp32 model.

    python -m npu_overlay.quantize_int8 MODEL.onnx --calibration DIR --out DIR
    python -m npu_overlay.quantize_int8 MODEL.onnx --calibration DIR --out DIR \\
        --evaluate DIR --samples tests/data/tables --tree build/PaddleOCR --report docs/int8

Exit status: 0 done, 1 a check failed (the QDQ graph is not what AMCT takes), 2 bad input or a
missing dependency (one line on stderr, nothing written).
"""

from __future__ import annotations

from npu_overlay.cli import ToolError

from dataclasses import dataclass

# What AMCT quantizes (Conv, Gemm, MatMul with a constant 2-D weight, ConvTranspose); the
# issue keeps to the first three.
OP_TYPES = ("Conv", "MatMul", "Gemm")


@dataclass(frozen=True)
class Variant:
    """What one int8 model quantizes. MatMuls of two activations (the attention's softmax x
    features) stay fp32 in every variant: AMCT quantizes "single-input" MatMul only."""

    convs: bool  # backbone + neck: every Conv
    matrices: bool  # the decoder's weight matrices (MatMul/Gemm with a constant 2-D weight)
    depthwise_fp32: bool = False  # depthwise Convs stay fp32 (the backbone's cost nearly all of the encoder's drop)
    split_fused: bool = False  # the decoder's fused step matrix split per part first (split.py), one scale each
    context_fp32: bool = False  # matrices reading the attention's context (the GRU's input) stay fp32
    about: str = ""


VARIANTS = {
    "encoder": Variant(True, False, about="backbone + neck: every Conv"),
    "head": Variant(False, True, about="the decoder's weight matrices; backbone + neck stay fp32"),
    "full": Variant(True, True, about="encoder + head"),
    "encoder_dw32": Variant(True, False, depthwise_fp32=True,
                            about="backbone + neck, depthwise Convs kept fp32"),
    "head_split": Variant(False, True, split_fused=True,
                          about="head, with the fused step matrix split into its four parts before quantizing"),
    "head_split_ctx32": Variant(False, True, split_fused=True, context_fp32=True,
                                about="head_split, the matrix that reads the attention's context kept fp32"),
    "full_split_dw32": Variant(True, True, depthwise_fp32=True, split_fused=True,
                               about="encoder_dw32 + head_split"),
}

# Render seeds: calibration tables come from CALIBRATION_SEED, the evaluation set from
# EVALUATION_SEED; the fixed samples (tests/data/tables) use table seeds 1-7 and no stream.
CALIBRATION_SEED = 1400
EVALUATION_SEED = 1401


class QuantizeError(ToolError):
    """Bad input or a missing dependency: the CLI prints it as one line and exits 2."""
