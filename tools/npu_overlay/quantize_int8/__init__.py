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

# What AMCT quantizes (Conv, Gemm, MatMul with a constant 2-D weight, ConvTranspose); the
# issue keeps to the first three.
OP_TYPES = ("Conv", "MatMul", "Gemm")

# Variants: which of OP_TYPES get int8.
#   encoder: backbone + neck only (every Conv; the head's matrices stay fp32)
#   head:    the decoder's weight matrices only (MatMul/Gemm whose second input is a constant
#            2-D weight); backbone + neck stay fp32
#   full:    both. MatMuls of two activations (the attention's softmax x features) stay fp32
#            in every variant: AMCT quantizes "single-input" MatMul only.
VARIANTS = ("encoder", "head", "full")

# Render seeds: calibration tables come from CALIBRATION_SEED, the evaluation set from
# EVALUATION_SEED; the fixed samples (tests/data/tables) use table seeds 1-7 and no stream.
CALIBRATION_SEED = 1400
EVALUATION_SEED = 1401


class QuantizeError(RuntimeError):
    """Bad input or a missing dependency: the CLI prints it as one line and exits 2."""
