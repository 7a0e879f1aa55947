"""npu_overlay.onnx_export on a real fixed-decode export: the decoder of overlay patch 0001 with
SLANet_plus's weights (one export per session, see conftest), converted, simplified and
checked by the command line, then run on onnxruntime's CPU provider on the sample tables
against upstream's own SLANet_plus export and against the Paddle code the export traced
(patch 0001's decoder, run eagerly with the same weights and features).

The exported Paddle program itself is not run here: Paddle Inference needs 2-3 minutes on
two cores before the first result of a 15k-op program, beyond an offline test's budget.
Through an upstream tree, tests/test_onnx_upstream.py runs the whole model both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from inference_runner import run_with_head_input
from table_head_layers import load_static_decoder
from table_head_layers import SLAHeadLayers, decoded_tables
from npu_overlay.convert_weights import head_params
from npu_overlay.npu_check import check_model
from npu_overlay.onnx_export import DEFAULT_OPSET, FORBIDDEN_OPS, STATIC_DECODE_OPTIONS, in_paddle_order
from npu_overlay.onnx_export.simplify import ort_session
from npu_overlay.table_input import preprocess, read_image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "tests" / "data" / "tables").glob("*.png"))
STEPS = 501  # SLANet_ch / SLANet_plus: max_text_length + 1
BOX_TOLERANCE_PX = 1.0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "npu_overlay.onnx_export", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def converted(fixed_head_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    proc = _cli(fixed_head_export, "--out", out, "--no-timing")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out, json.loads(out.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def results(converted, slanet_plus_dir, tmp_path_factory):
    """Per sample table: upstream, Paddle fixed decode, ONNX, decoded as TableLabelDecode reads them."""
    import paddle

    decoder = load_static_decoder(tmp_path_factory.mktemp("decoder"))
    head = SLAHeadLayers(decoder, head_params(slanet_plus_dir, "SLANet_ch"), decoder.DecodeStrategy("fixed", "all"))
    session = ort_session(converted[0])
    found = {}
    for image in SAMPLES:
        batch, shape = preprocess(read_image(image))
        features, (loc, structure) = run_with_head_input(slanet_plus_dir, batch)
        n, c = features.shape[:2]
        fea = np.ascontiguousarray(features.reshape(n, c, -1).transpose(0, 2, 1))
        with paddle.no_grad():
            eager = head(paddle.to_tensor(fea))
        runs = {"upstream": (structure, loc),
                "paddle_fixed": (eager["structure_probs"].numpy(), eager["loc_preds"].numpy()),
                "onnx": in_paddle_order(session.run(None, {session.get_inputs()[0].name: fea}))[::-1]}
        assert runs["paddle_fixed"][0].shape[1] == STEPS
        found[image.stem] = {name: decoded_tables(s, b, shape[None])[0] for name, (s, b) in runs.items()}
    return found


@pytest.mark.parametrize("reference", ["paddle_fixed", "upstream"])
def test_onnx_decodes_the_same_tables(results, reference):
    assert len(results) == len(SAMPLES) >= 7
    for table, decoded in results.items():
        ids, boxes = decoded[reference]
        onnx_ids, onnx_boxes = decoded["onnx"]
        np.testing.assert_array_equal(onnx_ids, ids, err_msg=f"{table}: tokens differ from {reference}")
        assert len(ids) > 20, table  # real tables, not an immediate end-of-sequence
        np.testing.assert_allclose(onnx_boxes, boxes, rtol=0, atol=BOX_TOLERANCE_PX,
                                   err_msg=f"{table}: boxes differ from {reference}")


def test_onnx_is_static_for_atc(converted):
    path, report = converted
    assert report["ok"] and report["problems"] == []
    assert report["opset"] == DEFAULT_OPSET and report["static_decode_options"] == STATIC_DECODE_OPTIONS
    assert report["identity"]["raw"] > 1000 and report["identity"]["simplified"] == 0
    assert report["nodes"]["simplified"] < report["nodes"]["raw"] / 2
    model = onnx.load(path)
    assert {op.domain for op in model.opset_import} <= {"", "ai.onnx"}
    assert not {n.op_type for n in model.graph.node} & set(FORBIDDEN_OPS)
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 256, 96]
    npu = check_model(path, require_single_graph=True)
    assert npu.format == "onnx" and npu.findings == [] and npu.control_flow == []
    assert npu.exit_code == 0


def test_bad_input_writes_nothing(slanet_plus_dir, tmp_path):
    out = tmp_path / "model.onnx"
    # upstream's own export: its decode loop is a `while`, which paddle2onnx 2.x cannot convert
    looped = _cli(slanet_plus_dir, "--out", out)
    assert looped.returncode == 2
    assert "control flow (while)" in looped.stderr and STATIC_DECODE_OPTIONS[0] in looped.stderr
    empty = _cli(tmp_path, "--out", out)
    assert empty.returncode == 2 and "no Paddle export" in empty.stderr
    assert _cli(tmp_path, "--out", tmp_path / "model.txt").returncode == 2
    for proc in (looped, empty):
        # one line of ours, last (Paddle itself may warn on import, e.g. about OMP_NUM_THREADS)
        ours = [line for line in proc.stderr.splitlines() if line.startswith("onnx_export:")]
        assert len(ours) == 1 and proc.stderr.strip().endswith(ours[0]), proc.stderr
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*.json"))
