"""quantize_static in QDQ form, as AMCT's convert_qat_model takes it: int8 weights (Conv per
channel, MatMul/Gemm per tensor), int8 activations, pairs only on the inputs of the selected
Conv/MatMul/Gemm nodes."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from npu_overlay.quantize_int8 import OP_TYPES, QuantizeError
from npu_overlay.quantize_int8.calibration import ArrayReader, table_reader
from npu_overlay.quantize_int8.graph import select, summarize_qdq
from npu_overlay.quantize_int8.split import prepare


def keep_pairs_of(model, quantized: set[str]):
    """Give the fp32 tensor back to every reader that stays fp32.

    quantize_static puts a tensor's pair in front of all its readers (one shared pair, or one
    each with DedicatedQDQPair): a Concat, Sub or excluded MatMul reading a calibrated tensor
    would then compute on int8-rounded values, and AMCT takes pairs only in front of the ops
    it quantizes. Pairs left with no reader go."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.name in quantized:
            continue
        for k, name in enumerate(node.input):
            dq = producer.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producer.get(dq.input[0])
            if q is not None and q.op_type == "QuantizeLinear":  # an activation pair, not a stored weight
                node.input[k] = q.input[0]
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    while True:
        dead = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                and not any(o in used for o in n.output)]
        if not dead:
            return model
        for node in dead:
            graph.node.remove(node)
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}


METHODS = ("minmax", "percentile", "entropy")


def quantize(model_path: Path, out: Path, variant: str, calibration: list[Path] | ArrayReader,
             method: str = "percentile", keep_fp32: frozenset[str] = frozenset(), percentile: float = 99.99,
             calibration_options: dict | None = None) -> dict:
    """Write the QDQ model of ``variant`` to ``out`` (whole or not at all); return what was done.
    ``calibration``: rendered table images, or an ArrayReader of ready inputs (e.g. head features)."""
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    except ImportError as exc:
        raise QuantizeError(f"quantizing needs onnxruntime and onnx ({exc}): pip install 'onnxruntime<1.21' onnx") from None
    model, split = prepare(onnx.load(model_path), variant)
    inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1:
        raise QuantizeError(f"{model_path}: expected one model input, found {inputs}")
    chosen = select(model, variant, keep_fp32)
    if not chosen.quantize:
        raise QuantizeError(f"{model_path}: variant {variant} finds nothing to quantize")
    reader = calibration if isinstance(calibration, ArrayReader) else table_reader(inputs[0], calibration)
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        source = model_path
        if split:  # quantize the rewritten fp32 graph
            source = Path(tmp) / "fp32_split.onnx"
            onnx.save(model, source)
        quantize_static(
            os.fspath(source), os.fspath(staged), reader,
            # only the op types this variant quantizes: calibration then observes only their tensors
            quant_format=QuantFormat.QDQ, op_types_to_quantize=chosen.op_types, nodes_to_quantize=chosen.quantize,
            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method={"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                              "entropy": CalibrationMethod.Entropy}[method],
            extra_options={
                # QDQ on the inputs of the quantized ops only: AMCT inserts its own dequant after them
                "OpTypesToExcludeOutputQuantization": list(OP_TYPES),
                # AMCT: "single-input MatMul / Gemm: per-tensor weight quantization only"
                "TensorQuantOverrides": {w: [{"symmetric": True}] for w in chosen.matmul_weights},
                "CalibPercentile": percentile,  # percentile method: the share of values kept in range
                **(calibration_options or {}),
            },
        )
        seconds = time.perf_counter() - start
        qdq = keep_pairs_of(onnx.load(staged), set(chosen.quantize))
        onnx.save(qdq, staged)
        summary = summarize_qdq(qdq)
        if not summary.problems:  # a graph AMCT would not take is reported, not written
            os.replace(staged, out)
    return {"variant": variant, "onnx": str(out), "calibration_tables": reader.count, "method": method,
            "seconds": round(seconds, 1), "nodes": chosen.counts, "split_matrices": split,
            "qdq": {"QuantizeLinear": summary.quantize_linear, "DequantizeLinear": summary.dequantize_linear,
                    "quantized_ops": summary.quantized_ops, "per_channel_weights": summary.per_channel_weights,
                    "per_tensor_weights": summary.per_tensor_weights},
            "problems": summary.problems}
