"""npu_overlay.onnx_export on the family's other decoders: SLANet (English) and TableRec-RARE's
TableAttentionHead, as patch 0001 writes them (no upstream tree), exported with the loop-free
`fixed` decode on random weights. What is checked is the graph: the command converts it, the
checks pass (static shapes, no Loop/If/Scan/Scatter, opset 13), and onnxruntime computes what
the Paddle code the export traced computes. A short decode (31 steps) keeps the test in seconds;
the full 501-step models through upstream's export_model.py are in docs/onnx_export.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import paddle
import pytest

from npu_overlay import child_env
from table_head_layers import load_static_decoder
from table_head_layers import SLAHeadLayers, TableAttentionHeadLayers, random_sla_weights
from npu_overlay.onnx_export import DEFAULT_OPSET, FORBIDDEN_OPS, in_paddle_order
from npu_overlay.onnx_export.simplify import ort_session

REPO = Path(__file__).resolve().parents[1]
MAX_TEXT_LENGTH = 30
POSITIONS = 256  # a 488x488 input: 16 x 16 feature positions


def _sla_english(decoder, strategy):
    # configs/table/SLANet.yml: CSPPAN's 96 channels, 28 structure tokens + start/end, 4 box coordinates
    return SLAHeadLayers(decoder, random_sla_weights(96, 256, 30, 4), strategy, MAX_TEXT_LENGTH), 96


def _rare(decoder, strategy):
    # configs/table/table_mv3.yml: MobileNetV3 small's 576 channels, 30 tokens, 4 box coordinates
    head = TableAttentionHeadLayers(decoder, strategy, 576, max_text_length=MAX_TEXT_LENGTH)
    rng = np.random.default_rng(0)  # Paddle's default initialisation decodes one token throughout
    for param in head.parameters():
        param.set_value((rng.standard_normal(param.shape) * 0.1).astype("float32"))
    return head, 576


@pytest.mark.parametrize("build", [_sla_english, _rare], ids=["SLANet", "TableRec-RARE"])
def test_fixed_decode_converts_checks_and_matches_paddle(build, tmp_path):
    decoder = load_static_decoder(tmp_path)
    head, channels = build(decoder, decoder.DecodeStrategy("fixed", "all"))
    spec = [paddle.static.InputSpec([1, POSITIONS, channels], "float32")]
    export = tmp_path / "export" / "inference"
    paddle.jit.save(paddle.jit.to_static(head, input_spec=spec, full_graph=True), str(export))

    out = tmp_path / "model.onnx"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.onnx_export", str(export.parent), "--out", str(out),
                           "--no-timing"], cwd=REPO, env=child_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["ok"] and report["problems"] == [] and report["opset"] == DEFAULT_OPSET
    assert report["nodes"]["simplified"] < report["nodes"]["raw"]
    model = onnx.load(out)
    assert not {n.op_type for n in model.graph.node} & set(FORBIDDEN_OPS)
    steps = MAX_TEXT_LENGTH + 1
    assert sorted(report["outputs"].values()) == [[1, steps, 4], [1, steps, 30]]

    fea = np.random.default_rng(1).standard_normal((1, POSITIONS, channels)).astype("float32")
    with paddle.no_grad():
        eager = head(paddle.to_tensor(fea))
    session = ort_session(out)
    got = in_paddle_order(session.run(None, {session.get_inputs()[0].name: fea}))
    loc, structure = eager["loc_preds"].numpy(), eager["structure_probs"].numpy()
    assert len(set(structure[0].argmax(-1))) > 1  # random weights still decode more than one token
    np.testing.assert_array_equal(got[1].argmax(-1), structure.argmax(-1))
    np.testing.assert_allclose(got[1], structure, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got[0], loc, rtol=0, atol=1e-5)
