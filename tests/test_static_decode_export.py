"""The rewritten head's exported graph, checked with the NPU operator check.

The decoder from overlay patch 0001 is exported on its own (the head's graph with the real
SLANet_plus head weights, fed the flattened features [1, 256, 96] that a 488x488 input gives)
in both modes. `fixed` must pass `--require-static`: no slice assignment, no dynamic shape, no
control flow. `early_stop` keeps one counter-and-data loop but no slice assignment, and its
step is a fraction of upstream's 72 ops.
"""

from __future__ import annotations

import pytest

from overlay_files import load_static_decoder
from tools.convert_weights import head_params
from tools.npu_check import BUNDLED_KERNEL_LIST, check_model

FEATURES = [1, 256, 96]  # 488 / 32 = 16 x 16 positions, 96 channels (CSPPAN)
UPSTREAM_OPS_PER_STEP = 72  # measured on the SLANet_plus export by tests/test_npu_check.py


@pytest.fixture(scope="module")
def kernels():
    return BUNDLED_KERNEL_LIST


def _export(slanet_plus_dir, out, mode, interval):
    import paddle

    (out / "src").mkdir()
    decoder = load_static_decoder(out / "src")
    weights = head_params(slanet_plus_dir, "SLANet_ch")

    class HeadGraph(paddle.nn.Layer):
        """The decoder as a layer: real weights as parameters under their upstream names."""

        def __init__(self):
            super().__init__()
            self.names = {}
            for name, value in weights.items():
                attr = name.replace(".", "__")
                self.names[name] = attr
                setattr(self, attr, self.create_parameter(list(value.shape), default_initializer=paddle.nn.initializer.Assign(value)))

        def forward(self, fea):
            params = {name: getattr(self, attr) for name, attr in self.names.items()}
            return decoder.sla_head_infer(params, fea, 500, 49, mode, interval)

    layer = HeadGraph()
    layer.eval()
    spec = [paddle.static.InputSpec(FEATURES, "float32")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(out / "inference"))
    return out


@pytest.fixture(scope="module")
def fixed_export(slanet_plus_dir, tmp_path_factory):
    return _export(slanet_plus_dir, tmp_path_factory.mktemp("fixed"), "fixed", 1)


@pytest.fixture(scope="module")
def early_stop_export(slanet_plus_dir, tmp_path_factory):
    return _export(slanet_plus_dir, tmp_path_factory.mktemp("early"), "early_stop", 8)


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
