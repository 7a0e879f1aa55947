"""Patch 0009's NPU preflight for table models, run on the real SLANet_plus export (offline).

The patch's new file and the loader file it imports (patch 0002) are taken from the patch text
into a scratch `tools/infer/`, and run in a subprocess the way the predictors call them: the
arguments as `--device npu` leaves them (use_npu=True), since this host has no NPU to resolve.
"""

from __future__ import annotations

from tests.npu_preflight import preflight


def test_npu_refuses_upstreams_dynamic_slanet_plus_in_one_line(scratch_tree, slanet_plus_dir):
    proc = preflight(scratch_tree, slanet_plus_dir, "npu")
    assert proc.returncode == 2, proc.stderr
    assert "input x has dynamic dimensions [-1, 3, -1, -1]" in proc.stdout
    assert "3 set_value op(s) inside a while loop" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert f"table model {slanet_plus_dir} is a dynamic-shape export" in errors[0]
    assert "configs/table/SLANet_ch_npu.yml" in errors[0] and "--table_model_dir" in errors[0]
    assert "passed" not in proc.stdout


def test_the_same_model_runs_on_the_cpu_as_upstream(scratch_tree, slanet_plus_dir):
    proc = preflight(scratch_tree, slanet_plus_dir, "cpu")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "passed"
