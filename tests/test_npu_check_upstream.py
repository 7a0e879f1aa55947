"""tools/npu_overlay/npu_check on upstream's SLANet_ch, exported in PIR form from the pinned upstream commit.

The weights are random (``Global.pretrained_model`` unset, no backbone download): this test
checks the exported op structure, which does not depend on the weights' values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_overlay.npu_check import BUNDLED_KERNEL_LIST, check_model


@pytest.fixture(scope="module")
def slanet_ch_pir_export(pin_tree, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slanet_ch_pir")
    cmd = [sys.executable, "tools/export_model.py", "-c", "configs/table/SLANet_ch.yml", "-o",
           f"Global.save_inference_dir={out}", "Global.pretrained_model=null",
           "Architecture.Backbone.pretrained=False"]
    env = dict(os.environ, FLAGS_enable_pir_api="1")
    proc = subprocess.run(cmd, cwd=pin_tree, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "inference.json").is_file()
    return out


@pytest.mark.upstream
def test_slanet_ch_pir_export_has_set_value_in_its_while(slanet_ch_pir_export):
    report = check_model(slanet_ch_pir_export, kernels=BUNDLED_KERNEL_LIST)
    assert report.format == "pir-json"
    loops = [c for c in report.control_flow if c.op == "pd_op.while"]
    assert len(loops) == 1 and loops[0].condition == "data"
    found = [f for f in report.findings if f.rule == "set-value-in-loop"]
    assert [(f.severity, f.op, f.location, f.count) for f in found] == \
        [("error", "pd_op.set_value_with_tensor_", loops[0].body, 3)]
    assert report.exit_code == 1
