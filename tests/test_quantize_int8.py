"""npu_overlay.quantize_int8 on real weights: the decoder of overlay patch 0001 with SLANet_plus's head
weights, exported with a shorter unrolled decode (81 steps: the whole model's 501-step head
takes minutes to quantize on two cores), converted by npu_overlay.onnx_export, calibrated on the
features of three tables rendered with the calibration seed and quantized as the `head` and
`head_split_ctx32` variants quantize the whole model in docs/int8.json (its decoder's weight
matrices, MatMul per tensor, the report's calibration method; head_split_ctx32 first splits the
fused step matrix per part and keeps the matrix reading the attention's context fp32). Checked: the split keeps fp32's outputs, the QDQ graph is what AMCT takes, and
the int8 head decodes fp32's tokens on the sample tables where the report says the whole model's
variant does. The offline suite has no upstream tree, so the features come from upstream's own
SLANet_plus export (as in tests/test_onnx_export.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from inference_runner import run_with_head_input
from table_head_layers import export_head
from npu_overlay.onnx_export.__main__ import export_onnx
from npu_overlay.onnx_export.simplify import ort_session
from npu_overlay.quantize_int8 import CALIBRATION_SEED, OP_TYPES
from npu_overlay.quantize_int8.calibration import ArrayReader
from npu_overlay.quantize_int8.graph import has_constant_weight, summarize_qdq
from npu_overlay.quantize_int8.quantize import quantize
from npu_overlay.quantize_int8.split import prepare
from npu_overlay.render_tables import random_spec, write
from npu_overlay.table_input import preprocess, read_image

REPO = Path(__file__).resolve().parents[1]
TABLES = REPO / "tests" / "data" / "tables"
REPORT = REPO / "docs" / "int8.json"
MAX_TEXT_LENGTH = 80  # 81 unrolled steps: the samples of up to 68 tokens decode whole
EOS = 49


def _features(model_dir, image):
    """The head's input [1, 256, 96] for one table, from upstream's own SLANet_plus export."""
    features, _ = run_with_head_input(model_dir, preprocess(read_image(image))[0])
    n, c = features.shape[:2]
    return np.ascontiguousarray(features.reshape(n, c, -1).transpose(0, 2, 1))


@pytest.fixture(scope="module")
def head_onnx(slanet_plus_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("short_head")
    export_head(slanet_plus_dir, work, "fixed", "all", max_text_length=MAX_TEXT_LENGTH)
    report, ok = export_onnx(work, work / "head.onnx", timing=False)
    assert ok, report["problems"]
    return work / "head.onnx"


@pytest.fixture(scope="module")
def calibration_features(head_onnx, slanet_plus_dir, tmp_path_factory):
    import random

    tables = tmp_path_factory.mktemp("calibration")
    rng = random.Random(CALIBRATION_SEED)
    images = [write(random_spec(rng), tables, f"calib_{i}") for i in range(3)]
    return [_features(slanet_plus_dir, p) for p in images]


# head: the decoder's matrices as they are; head_split_ctx32: the report's recommended variant, its
# fused step matrix split per part first and the matrix reading the attention's context kept fp32
@pytest.fixture(scope="module", params=["head", "head_split_ctx32"])
def quantized(request, head_onnx, calibration_features):
    variant = request.param
    reader = ArrayReader(onnx.load(head_onnx).graph.input[0].name, calibration_features)
    out = head_onnx.with_name(f"head.int8_{variant}.onnx")
    method = json.loads(REPORT.read_text(encoding="utf-8"))["calibration"].get("method", "minmax")  # as the report
    info = quantize(head_onnx, out, variant, reader, method)
    return variant, out, info


def _agreeing_samples(variant: str) -> list[str]:
    """Sample tables whose whole-model int8 tokens equal fp32's in the committed report."""
    per_table = json.loads(REPORT.read_text(encoding="utf-8"))["per_table"]["samples"]
    return sorted(name for name, models in per_table.items() if models[f"int8_{variant}"]["tokens_equal"])


def test_split_keeps_the_fp32_arithmetic(head_onnx, slanet_plus_dir):
    original = onnx.load(head_onnx)
    split, count = prepare(original, "head_split")
    onnx.checker.check_model(split)
    assert prepare(original, "head") == (original, 0)
    # one fused MatMul -> Add -> Split per decoder step that feeds the next; four parts each
    assert count == MAX_TEXT_LENGTH
    ops, before = Counter(n.op_type for n in split.graph.node), Counter(n.op_type for n in original.graph.node)
    assert ops["MatMul"] == before["MatMul"] + 3 * count and ops["Split"] == before["Split"] - count
    read = {name for node in split.graph.node for name in node.input}
    assert all(t.name in read for t in split.graph.initializer)  # the fused matrix is gone, not kept beside
    fea = _features(slanet_plus_dir, TABLES / "grid_5x4.png")
    a, b = ort_session(head_onnx), ort_session(split.SerializeToString())
    for x, y in zip(a.run(None, {a.get_inputs()[0].name: fea}), b.run(None, {b.get_inputs()[0].name: fea})):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)


def test_qdq_graph_is_what_amct_takes(head_onnx, quantized):
    variant, path, info = quantized
    model = onnx.load(path)
    summary = summarize_qdq(model)
    assert summary.problems == [] and info["problems"] == []
    fp32 = prepare(onnx.load(head_onnx), variant)[0].graph
    initializers = {t.name: t for t in fp32.initializer}
    constant = [n for n in fp32.node if n.op_type == "MatMul" and has_constant_weight(n, initializers)]
    activations = [n for n in fp32.node if n.op_type == "MatMul" and not has_constant_weight(n, initializers)]
    assert len(constant) >= 3 * (MAX_TEXT_LENGTH + 1) and activations  # the attention's two-activation MatMuls
    producer = {out: n for n in fp32.node for out in n.output}
    context = [n for n in constant if producer.get(n.input[0]) in activations]  # the GRU's input, one per step
    assert len(context) == MAX_TEXT_LENGTH + 1
    # the matrices with a constant weight get int8 input and weight (ctx32: less those reading the context);
    # nothing else is fed a DequantizeLinear
    weighted = [n for n in constant if not (variant.endswith("ctx32") and n in context)]
    assert summary.quantized_ops == {"MatMul": len(weighted)}
    assert set(summary.dq_consumers) <= set(OP_TYPES)
    assert summary.per_tensor_weights == {"MatMul": len(weighted)} and summary.per_channel_weights == {}
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["MatMul"] == len(constant) + len(activations)  # no MatMul lost or replaced by a fused op
    # one pair per activation a matrix reads, one weight DequantizeLinear per distinct matrix
    activations_read, matrices = {n.input[0] for n in weighted}, {n.input[1] for n in weighted}
    assert ops["QuantizeLinear"] == len(activations_read)
    assert ops["DequantizeLinear"] == len(activations_read) + len(matrices)
    # every distinct matrix stored once in int8 (the unrolled steps share theirs)
    stored = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2}
    assert len(stored) == len(matrices)


def test_int8_head_decodes_fp32_tokens(head_onnx, quantized, slanet_plus_dir):
    variant = quantized[0]
    names = [n for n in _agreeing_samples(variant) if len(json.loads((TABLES / f"{n}.json").read_text())["structure_merged"])
             < MAX_TEXT_LENGTH]
    assert len(names) >= 3, f"too few sample tables to compare: {names}"
    fp32, int8 = ort_session(head_onnx), ort_session(quantized[1])
    for name in names:
        fea = _features(slanet_plus_dir, TABLES / f"{name}.png")
        ids = {}
        for label, session in (("fp32", fp32), ("int8", int8)):
            outputs = session.run(None, {session.get_inputs()[0].name: fea})
            structure = next(o for o in outputs if o.shape[-1] != 8)[0].argmax(-1)
            end = np.flatnonzero(structure[1:] == EOS)
            assert len(end), f"{name}: {label} reached no end-of-sequence within {MAX_TEXT_LENGTH} steps"
            ids[label] = structure[: end[0] + 2]
        np.testing.assert_array_equal(ids["int8"], ids["fp32"], err_msg=f"{name}: {variant} tokens differ from fp32")


def test_bad_input_is_one_line(tmp_path):
    cli = [sys.executable, "-m", "npu_overlay.quantize_int8"]
    missing = subprocess.run(cli + [str(tmp_path / "none.onnx"), "--calibration", str(TABLES), "--out", str(tmp_path)],
                             cwd=REPO, capture_output=True, text=True)
    (tmp_path / "model.onnx").write_bytes(b"")
    no_tables = subprocess.run(cli + [str(tmp_path / "model.onnx"), "--calibration", str(tmp_path / "empty"),
                                      "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    for proc, words in ((missing, "no such .onnx model"), (no_tables, "no such folder")):
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def _qdq_graph(weight_scale_dims: list[int], op: str, extra_reader: str | None = None):
    """x -> Q -> DQ -> op(·, DQ(w)) [-> DQ output also read by extra_reader]: the smallest QDQ graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = [2, 2] if op == "MatMul" else [2, 2, 1, 1]
    scale = np.ones(weight_scale_dims or [], dtype=np.float32)
    inits = [numpy_helper.from_array(np.zeros(shape, dtype=np.int8), "w_q"),
             numpy_helper.from_array(scale, "w_scale"),
             numpy_helper.from_array(np.ones([], dtype=np.float32), "x_scale"),
             numpy_helper.from_array(np.zeros([], dtype=np.int8), "x_zero")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"], name="q"),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"], name="dq"),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w_dq"], name="w_dq",
                              **({"axis": 0} if weight_scale_dims else {})),
             helper.make_node(op, ["x_dq", "w_dq"], ["y"], name="op")]
    if extra_reader:
        nodes.append(helper.make_node(extra_reader, ["x_dq", "x_dq"], ["z"], name="stray"))
    x_shape = [2, 2] if op == "MatMul" else [1, 2, 1, 1]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return onnx.helper.make_model(graph)


@pytest.mark.parametrize("op, scale_dims, stray, refusal", [
    ("Conv", [], None, "quantized per tensor, expected per channel"),
    ("MatMul", [2], None, "AMCT takes them per tensor only"),
    ("MatMul", [], "Add", "read by Add"),
])
def test_qdq_graphs_that_amct_does_not_take_are_refused(op, scale_dims, stray, refusal):
    """The structure check README relies on refuses each form AMCT does not take, and passes the ones it does."""
    from npu_overlay.quantize_int8.graph import summarize_qdq

    assert any(refusal in p for p in summarize_qdq(_qdq_graph(scale_dims, op, stray)).problems)
    good = [2] if op == "Conv" else []
    assert summarize_qdq(_qdq_graph(good, op)).problems == []
