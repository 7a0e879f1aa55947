"""The full regression on the CPU: pristine upstream at the pin against the patched tree,
over the sample tables, with the real models (slow: two exports, two predict_table runs)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data" / "tables"


@pytest.fixture(scope="module")
def trees(patched_tree, pin_tree):
    return patched_tree, pin_tree


@pytest.mark.upstream
def test_patched_tree_matches_upstream_on_every_sample_table(trees, tmp_path):
    patched, pristine = trees
    out = tmp_path / "regress"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.pipeline.regress", "--tree", str(patched),
                           "--pristine-tree", str(pristine), "--device", "cpu", "--images", str(TABLES),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    comparison = json.loads((out / "comparison.json").read_text())
    samples = sorted(p.name for p in TABLES.glob("*.png"))
    assert sorted(r["name"] for r in comparison["images"]) == samples
    assert all(r["tokens_equal"] for r in comparison["images"]), (out / "report.md").read_text()
    assert proc.returncode == 0, (out / "report.md").read_text()
    assert "**PASS**" in (out / "report.md").read_text()
    # upstream's predict_table.py timed as a fresh process per image, in both trees
    assert all(r["reference_one_shot_s"] > 0 and r["candidate_one_shot_s"] > 0 for r in comparison["images"])


@pytest.mark.upstream
def test_recorded_reference_is_reused_without_the_pristine_tree(trees, tmp_path):
    patched, pristine = trees
    first = tmp_path / "first"
    subprocess.run([sys.executable, "-m", "npu_overlay.pipeline", "--tree", str(pristine), "--device", "cpu",
                    "--images", str(TABLES), "--out", str(first), "--no-one-shot"], cwd=ROOT, check=True,
                   capture_output=True)
    out = tmp_path / "again"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.pipeline.regress", "--tree", str(patched),
                           "--reference", str(first / "records.json"), "--device", "cpu",
                           "--images", str(TABLES), "--out", str(out), "--no-one-shot"], cwd=ROOT,
                          capture_output=True, text=True)
    assert not (out / "reference").exists()
    assert (out / "report.md").is_file(), proc.stderr


@pytest.mark.upstream
def test_onnx_candidate_matches_upstream_in_the_regression_report(trees, tmp_path):
    """--onnx: det, rec and the table model (the static ONNX of the loop-free export) run on
    onnxruntime through upstream's --use_onnx, regressed against pristine upstream's Paddle run
    (recorded in tests/data/records/reference_cpu.json): same tokens, boxes within 1 px, TEDS."""
    patched, _ = trees
    out = tmp_path / "onnx"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.pipeline.regress", "--tree", str(patched), "--onnx",
                           "--reference", str(ROOT / "tests" / "data" / "records" / "reference_cpu.json"),
                           "--device", "cpu", "--images", str(TABLES), "--out", str(out), "--no-one-shot"],
                          cwd=ROOT, capture_output=True, text=True)
    assert (out / "report.md").is_file(), proc.stderr[-2000:]
    report = (out / "report.md").read_text()
    assert proc.returncode == 0, report
    candidate = json.loads((out / "candidate" / "records.json").read_text())
    assert candidate["meta"]["runtime"] == "onnxruntime" and candidate["meta"]["export"]["program"] == "table.onnx"
    comparison = json.loads((out / "comparison.json").read_text())
    assert sorted(r["name"] for r in comparison["images"]) == sorted(p.name for p in TABLES.glob("*.png"))
    assert all(r["tokens_equal"] for r in comparison["images"]), report
    assert "| runtime | paddle-inference | onnxruntime |" in report
