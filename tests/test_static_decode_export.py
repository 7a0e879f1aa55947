"""The rewritten head's exported graph, checked with the NPU operator check.

The decoder from overlay patch 0001 is exported on its own (the head's layers with the real
SLANet_plus head weights, fed the flattened features [1, 256, 96] that a 488x488 input gives)
with the strategies the configs use:

* early_stop, 8 steps a loop iteration (the NPU configs): every shape static, no slice
  assignment, one loop whose exit reads tensor values and that a counter bounds to 63 turns;
* fixed, 8: the same loop with a trip count fixed by the counter (63);
* fixed, all: no control flow at all, what whole-graph compilers (ATC, TensorRT) take.
"""

from __future__ import annotations

import pytest

from table_head_layers import export_head
from npu_overlay.npu_check import BUNDLED_KERNEL_LIST, check_model
UPSTREAM_OPS_PER_STEP = 72  # measured on the SLANet_plus export by tests/test_npu_check.py
ITERATIONS = 63  # ceil(501 steps / 8)


@pytest.fixture(scope="module")
def kernels():
    return BUNDLED_KERNEL_LIST


@pytest.fixture(scope="module")
def npu_config_export(slanet_plus_dir, tmp_path_factory):
    return export_head(slanet_plus_dir, tmp_path_factory.mktemp("early_stop"), "early_stop", 8)


def _no_slice_assignment(report):
    return not [u for u in report.ops if "set_value" in u.op]


def test_npu_config_decoder_is_static_with_a_bounded_loop(npu_config_export, kernels):
    report = check_model(npu_config_export, kernels=kernels, require_static=True)
    assert report.exit_code == 0, [f for f in report.findings if f.severity == "error"]
    assert _no_slice_assignment(report)
    assert [f.rule for f in report.findings] == ["data-dependent-loop"]
    (loop,) = report.control_flow
    assert loop.condition == "data" and loop.trip_count == f"<={ITERATIONS}"
    # one block of 8 unrolled steps per iteration, each far below upstream's 72 ops
    assert loop.body_ops / 8 < UPSTREAM_OPS_PER_STEP / 2, loop
    # ... and that loop is exactly what a single-graph compiler cannot take
    strict = check_model(npu_config_export, kernels=kernels, require_single_graph=True)
    assert [f.rule for f in strict.findings if f.severity == "error"] == ["data-dependent-loop"]


def test_fixed_loop_has_a_trip_count_fixed_by_its_counter(slanet_plus_dir, tmp_path, kernels):
    report = check_model(export_head(slanet_plus_dir, tmp_path, "fixed", 8), kernels=kernels, require_static=True)
    assert [(f.severity, f.rule) for f in report.findings] == [("info", "counter-loop")]
    (loop,) = report.control_flow
    assert loop.condition == "counter" and loop.trip_count == str(ITERATIONS)
    assert f"{ITERATIONS + 1} host reads" in loop.cost


def test_fully_unrolled_decoder_is_one_graph(fixed_head_export, kernels):
    report = check_model(fixed_head_export, kernels=kernels, require_single_graph=True)
    assert report.findings == [], report.findings
    assert report.control_flow == []
    assert _no_slice_assignment(report)
