"""On an Ascend NPU: the patched tree's static export (the NPU config's `fixed` decode) through
upstream's predict_table on npu:0, against pristine upstream on the CPU. Needs an upstream tree
and an NPU; skipped, with the reason shown, without either."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data" / "tables"


@pytest.mark.upstream
@pytest.mark.npu
def test_fixed_export_on_the_npu_matches_upstream_on_the_cpu(npu_device, patched_tree, pin_tree, tmp_path):
    out = tmp_path / "regress"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.pipeline.regress", "--tree", str(patched_tree),
                           "--pristine-tree", str(pin_tree), "--device", npu_device, "--require-static",
                           "--images", str(TABLES), "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert (out / "report.md").is_file(), proc.stderr[-3000:]
    candidate = json.loads((out / "candidate" / "records.json").read_text())
    assert candidate["meta"]["npu_check"]["status"] == "pass", candidate["meta"]["npu_check"]
    comparison = json.loads((out / "comparison.json").read_text())
    assert sorted(r["name"] for r in comparison["images"]) == sorted(p.name for p in TABLES.glob("*.png"))
    assert all(r["tokens_equal"] for r in comparison["images"]), (out / "report.md").read_text()
    assert proc.returncode == 0, (out / "report.md").read_text()
