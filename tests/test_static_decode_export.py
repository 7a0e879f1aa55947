"""The rewritten head's exported graph, checked with the NPU operator check.

The decoder from overlay patch 0001 is exported on its own (the head's graph with the real
SLANet_plus head weights, fed the flattened features [1, 256, 96] that a 488x488 input gives)
in both modes. `fixed` must pass `--require-static`: no slice assignment, no dynamic shape, no
control flow. `early_stop` keeps one counter-and-data loop but no slice assignment, and its
step is a fraction of upstream's 72 ops.
"""

from __future__ import annotations

import pytest

from static_head import export_head
from tools.npu_check import check_model, default_kernel_list

UPSTREAM_OPS_PER_STEP = 72  # measured on the SLANet_plus export by tests/test_npu_check.py


@pytest.fixture(scope="module")
def kernels():
    path = default_kernel_list()
    if not path.is_file():
        pytest.skip(f"no NPU kernel list at {path} (set NPU_KERNEL_LIST)")
    return path


@pytest.fixture(scope="module")
def fixed_export(fixed_head_export):
    return fixed_head_export


@pytest.fixture(scope="module")
def early_stop_export(slanet_plus_dir, tmp_path_factory):
    return export_head(slanet_plus_dir, tmp_path_factory.mktemp("early"), "early_stop", 8)


def test_fixed_export_is_static_for_the_npu(fixed_export, kernels):
    report = check_model(fixed_export, kernels=kernels, require_static=True)
    assert report.findings == [], report.findings
    assert report.exit_code == 0
    assert report.control_flow == []
    assert not [u for u in report.ops if u.op.startswith("pd_op.set_value")]


def test_early_stop_export_has_no_slice_assignment(early_stop_export, kernels):
    report = check_model(early_stop_export, kernels=kernels)
    assert not [u for u in report.ops if "set_value" in u.op]
    loops = [c for c in report.control_flow if c.op.endswith("while")]
    assert len(loops) == 1
    # one block of 8 unrolled steps per iteration, each far below upstream's 72 ops
    assert loops[0].body_ops / 8 < UPSTREAM_OPS_PER_STEP / 2, loops[0]
