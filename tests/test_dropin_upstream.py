"""The drop-in wheel against upstream's published paddleocr==2.8.1, each in a fresh virtual environment.

Builds the wheel from the patched tree (release number 0: the record may not know a series under
work), then runs `python -m npu_overlay.dropin` end to end: pip installs paddlepaddle and each package
(the package registry is needed; pip's cache makes reruns quick), PPStructure(layout=False) and the
`paddleocr` console script on the sample tables with the cached PP-OCRv4 and SLANet_plus models.
A few minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from git import Repo

from npu_overlay.dropin.compare import main
from npu_overlay.engine.lock import load_lock
from npu_overlay.engine.releases import Release
from npu_overlay.engine.series import load_series
from npu_overlay.engine.wheel import build_wheel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.upstream
def test_our_wheel_is_upstreams_package_plus_the_overlay(patched_tree, tmp_path):
    lock = load_lock(ROOT / "upstream.lock")
    series = load_series(lock.overlay_dir)
    built = build_wheel(Repo(patched_tree), lock, series, Release(0, lock.commit, series.digest()), tmp_path / "dist")
    assert built.path.name == "paddleocr-2.8.1+npu.0-py3-none-any.whl"

    work = tmp_path / "work"
    code = main(["--wheel", str(built.path), "--tree", str(patched_tree), "--work", str(work),
                 "--report", str(tmp_path / "dropin.md")])
    assert "## Checks" in (tmp_path / "dropin.md").read_text()
    result = json.loads((work / "dropin.json").read_text())
    assert code == 0, {name: c for name, c in result["checks"].items() if not c["ok"]}

    up, ours = result["upstream"], result["ours"]
    assert up["version"] == "2.8.1" and ours["version"] == "2.8.1+npu.0"
    assert ours["npu_overlay"]["upstream"] == lock.commit and ours["npu_overlay"]["series"] == series.digest()
    cells = [len(t["cell_bbox"]) for tables in up["tables"].values() for t in tables]
    assert len(cells) == len(list((ROOT / "tests" / "data" / "tables").glob("*.png"))) and min(cells) > 0
    assert ours["tables"] == up["tables"] and ours["cli_tables"] == up["cli_tables"]
    assert "device" in set(ours["flags"]) - set(up["flags"])
    traced = {r["path"]: r["cause"] for r in result["files"] if r["status"] != "same"}
    assert traced["paddleocr/tools/infer/static_shape_check.py"].startswith("patch ")
    assert traced["paddleocr/_npu_overlay.py"] == "wheel build stamp (tools/npu_overlay/engine/wheel.py)"
    assert traced["paddleocr/tools/infer/predict_rec.py"].startswith("upstream after the 2.8.1 release")
    assert result["install_over"]["left_after_uninstall"] == []
