"""The pipeline's own logic, offline: image checks, CLI errors, comparison and report on the
real records of one CPU regression run (pristine pin vs the patched tree, tests/data/records)."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.compare import compare_records
from npu_overlay.pipeline.images import list_images
from npu_overlay.pipeline.report import render

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "tests" / "data" / "records"


@pytest.fixture(scope="module")
def reference():
    return json.loads((RECORDS / "reference_cpu.json").read_text())


@pytest.fixture(scope="module")
def candidate():
    return json.loads((RECORDS / "candidate_cpu.json").read_text())


@pytest.fixture(scope="module")
def scores():
    return json.loads((RECORDS / "teds_scores.json").read_text())


def _bad_images(d: Path) -> None:
    table = np.full((120, 200, 3), 255, np.uint8)
    cv2.rectangle(table, (10, 10), (190, 110), (0, 0, 0), 1)
    cv2.imwrite(str(d / "ok.png"), table)
    cv2.imwrite(str(d / "gray.png"), cv2.cvtColor(table, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "rgba.png"), cv2.cvtColor(table, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(d / "tiny.png"), table[:20, :31])
    cv2.imwrite(str(d / "huge.png"), np.full((40, 8100, 3), 255, np.uint8))
    (d / "empty.jpg").write_bytes(b"")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (d / "notes.txt").write_text("not an image")


def test_each_bad_image_gets_its_own_reason(tmp_path):
    _bad_images(tmp_path)
    checked = {c.path.name: c for c in list_images(tmp_path)}
    assert "notes.txt" not in checked
    assert checked["ok.png"].problem is None and checked["ok.png"].note is None
    assert checked["gray.png"].problem is None and "grayscale" in checked["gray.png"].note
    assert checked["rgba.png"].problem is None and "alpha" in checked["rgba.png"].note
    assert "too small: 31x20" in checked["tiny.png"].problem
    assert "too large: 8100x40" in checked["huge.png"].problem
    assert checked["empty.jpg"].problem == "empty file"
    assert "cannot decode" in checked["corrupt.png"].problem


def test_directory_without_images_or_missing_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(PipelineError, match="has no images"):
        list_images(tmp_path)
    with pytest.raises(PipelineError, match="does not exist"):
        list_images(tmp_path / "absent")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("argv, message", [
    (["npu_overlay.pipeline", "--tree", "no/such/tree", "--images", "tests", "--out", "x"], "not an upstream PaddleOCR tree"),
    (["npu_overlay.pipeline.regress", "--tree", "no/such/tree", "--images", "tests", "--out", "x"], "not an upstream PaddleOCR tree"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, tmp_path):
    argv = [a if a != "x" else str(tmp_path / "out") for a in argv]
    proc = _cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error:") and message in proc.stderr
    assert not (tmp_path / "out").exists()


def test_reference_file_must_be_records(tmp_path):
    from npu_overlay.pipeline.regress import load_records

    (tmp_path / "r.json").write_text("[1, 2]")
    with pytest.raises(PipelineError, match="not a records.json"):
        load_records(tmp_path / "r.json")
    with pytest.raises(PipelineError, match="cannot read"):
        load_records(tmp_path / "absent.json")


def test_a_run_compared_with_itself_has_no_regression(reference):
    perfect = {name: 1.0 for name in reference["images"]}
    comparison = compare_records(reference, copy.deepcopy(reference), perfect)
    assert comparison.regressions == []
    assert all(r.tokens_equal and r.box_max_diff == 0.0 for r in comparison.images)
    assert comparison.latency_ratio == pytest.approx(1.0)


def test_recorded_run_of_the_series_has_no_regression(reference, candidate, scores):
    """The records of a real CPU regression of the current series (pin vs pin + 0001-0004)."""
    comparison = compare_records(reference, candidate, scores)
    assert len(comparison.images) == len(reference["images"]) == 7
    assert comparison.regressions == []
    assert all(r.tokens_equal and r.box_max_diff <= comparison.box_tol and r.teds >= 0.999 for r in comparison.images)
    # the one-shot timings of upstream's predict_table.py are carried into the comparison
    assert all(r.reference_one_shot_s > 0 and r.candidate_one_shot_s > 0 for r in comparison.images)
    assert candidate["meta"]["npu_check"]["status"] == "pass"


def test_boxes_moved_past_the_tolerance_are_regressions(reference, candidate, scores):
    moved = copy.deepcopy(candidate)
    name = sorted(moved["images"])[0]
    moved["images"][name]["boxes"][2][1] += 1.5
    comparison = compare_records(reference, moved, scores)
    assert [p for r in comparison.images for p in r.problems] == ["cell boxes moved by up to 1.500 px (tolerance 1.0)"]
    assert compare_records(reference, moved, scores, box_tol=2.0).regressions == []


def test_token_change_missing_image_and_latency_cap_are_regressions(reference, scores):
    candidate = copy.deepcopy(reference)
    first, second = sorted(candidate["images"])[:2]
    candidate["images"][first]["tokens"][3] = "<td colspan=\"2\">"
    del candidate["images"][second]
    candidate["failed"] = {second: "cannot decode the image"}
    for rec in candidate["images"].values():
        rec["timings"]["table"] *= 3
    comparison = compare_records(reference, candidate, {n: 1.0 for n in reference["images"]}, max_latency_ratio=2.0)
    text = "\n".join(comparison.regressions)
    assert f"{first}: structure tokens differ at 3" in text
    assert f"{second}: failed on the candidate: cannot decode the image" in text
    assert "table latency ratio 3.00 above 2.0" in text
    # the overall ratio is over the images both runs timed
    assert comparison.latency_ratio == pytest.approx(3.0)


def test_report_shows_verdict_rows_and_failures(reference, candidate, scores):
    candidate = dict(candidate, images=dict(candidate["images"]), failed={"corrupt.png": "cannot decode the image"})
    reference = dict(reference, images=dict(reference["images"], **{"corrupt.png": reference["images"]["grid_5x4.png"]}))
    comparison = compare_records(reference, candidate, scores)
    text = render(comparison, reference, candidate)
    assert text.splitlines()[2].startswith("**FAIL (1 regression")  # the failed image
    for name in candidate["images"]:
        assert f"| {name} | identical |" in text
    assert "| corrupt.png | DIFFER |" in text and "failed on the candidate: cannot decode the image" in text
    assert "- candidate: corrupt.png: cannot decode the image" in text
    passing = render(compare_records(reference, copy.deepcopy(reference), {n: 1.0 for n in reference["images"]}),
                     reference, reference)
    assert "**PASS**" in passing
