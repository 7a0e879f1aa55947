"""Patch 0009's NPU preflight in the patched tree, on PIR exports made by upstream's export_model.py.

Upstream's SLANet_ch config exported from the pin (dynamic input, set_value in the decode loop)
must be refused on an NPU; the overlay's SLANet_ch_npu.yml export must pass, and (patch 0010)
be kept as a model by the download step PaddleOCR and PPStructure run on every model folder. The weights are
random (structure only). The arguments are what `--device npu` leaves (no NPU on this host).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.npu_preflight import preflight


def export(tree: Path, config: str, out: Path) -> Path:
    cmd = [sys.executable, "tools/export_model.py", "-c", config, "-o", f"Global.save_inference_dir={out}",
           "Global.pretrained_model=null", "Architecture.Backbone.pretrained=False"]
    env = dict(os.environ, FLAGS_enable_pir_api="1")
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "inference.json").is_file()
    return out


@pytest.fixture(scope="module")
def exports(pin_tree, patched_tree, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("exports")
    return (export(pin_tree, "configs/table/SLANet_ch.yml", out / "upstream"),
            export(patched_tree, "configs/table/SLANet_ch_npu.yml", out / "static"))


@pytest.mark.upstream
def test_patched_tree_refuses_upstreams_export_and_passes_the_static_one(exports, patched_tree):
    dynamic, static = exports

    refused = preflight(patched_tree, dynamic, "npu")
    assert refused.returncode == 2, refused.stderr
    assert "input x has dynamic dimensions [-1, 3, -1, -1]" in refused.stdout
    assert "set_value op(s) inside a while loop" in refused.stdout
    assert [line for line in refused.stderr.splitlines() if line.startswith("error:")][0].endswith(
        "and pass --table_model_dir DIR")

    passed = preflight(patched_tree, static, "npu")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.splitlines() == ["[]", "passed"]


DOWNLOAD = """
import sys
from ppocr.utils.network import maybe_download
maybe_download(sys.argv[1], "http://127.0.0.1:9/ch_ppstructure_mobile_v2.0_SLANet_infer.tar")
print("no download")
"""


@pytest.mark.upstream
def test_a_pir_export_is_a_model_to_maybe_download(exports, pin_tree, patched_tree, tmp_path):
    """Patch 0010: PPStructure's download step keeps a static export (inference.json) as the table model."""
    _, static = exports
    kept = subprocess.run([sys.executable, "-c", DOWNLOAD, str(static)], cwd=patched_tree,
                          capture_output=True, text=True)
    assert kept.returncode == 0 and kept.stdout.strip() == "no download", kept.stderr[-2000:]
    assert sorted(p.name for p in static.iterdir()) == ["inference.json", "inference.pdiparams"]

    pristine = subprocess.run([sys.executable, "-c", DOWNLOAD, str(static)], cwd=pin_tree,
                              capture_output=True, text=True)
    assert pristine.returncode != 0 and "download http://127.0.0.1:9/" in pristine.stdout
