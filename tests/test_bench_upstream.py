"""The decode benchmark end to end: exports from real upstream trees (patched and pristine),
every model timed on two sample tables. Checks what the numbers must satisfy whatever the
machine: the overlay decodes upstream's tokens, steps follow each decode mode, the backbone
time and the fits are used as documented, every target is evaluated and reported."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from npu_overlay import child_env

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data" / "tables"
INTERVAL = 8  # the NPU config's block: its cold-start target is evaluated too
FIXED = f"overlay-fixed-K{INTERVAL}"
LOOP_STEPS = INTERVAL * math.ceil(501 / INTERVAL)


@pytest.fixture(scope="module")
def trees(upstream_source, tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    env = dict(os.environ, PADDLEOCR_UPSTREAM=upstream_source)
    for extra, name in (([], "patched"), (["--pin-only"], "pin")):
        proc = subprocess.run([sys.executable, "apply.py", *extra, "--tree", str(base / name)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return base / "patched", base / "pin"


def bench(*args, cwd=ROOT):
    env = child_env()
    return subprocess.run([sys.executable, "-m", "npu_overlay.bench", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def full_run(trees, tmp_path_factory):
    patched, pin = trees
    images = tmp_path_factory.mktemp("tables")
    for name in ("grid_5x4.png", "merged_8x5.png"):
        shutil.copyfile(TABLES / name, images / name)
    work = tmp_path_factory.mktemp("bench")
    out = work / "out"
    # run from elsewhere with a relative --out: the exports run with cwd = the tree
    proc = bench("--tree", patched, "--pin-tree", pin, "--images", images, "--out", "out", "--repeats", 1,
                 "--warmup", 1, "--threads", 1, "--strategies", f"early_stop:{INTERVAL},fixed:{INTERVAL}",
                 "--cold-rounds", 1, cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), (out / "report.md").read_text()


@pytest.mark.upstream
def test_every_model_decodes_upstreams_tokens_with_its_own_step_count(full_run):
    result, _ = full_run
    names = [m["name"] for m in result["models"]]
    assert names == ["upstream", "upstream-pir", "upstream-dygraph", f"overlay-early_stop-K{INTERVAL}", FIXED,
                     "features"]
    rows = result["analysis"]["per_image"]
    assert result["analysis"]["token_mismatches"] == []
    for image in result["images"]:
        tokens = rows["upstream"][image]["sequence_steps"]
        for name in names[1:-1]:
            assert rows[name][image]["tokens_equal"], (name, image)
        # the loop runs whole blocks: 63 of them in fixed mode, up to the block that ends the table early
        assert rows[FIXED][image]["steps_run"] == LOOP_STEPS
        assert rows[f"overlay-early_stop-K{INTERVAL}"][image]["steps_run"] == min(LOOP_STEPS, INTERVAL * math.ceil(tokens / INTERVAL))
        # upstream's own head in dygraph mode stops on the step that produces end-of-sequence
        assert rows["upstream-dygraph"][image]["steps_run"] == tokens


@pytest.mark.upstream
def test_backbone_fits_and_targets_follow_from_the_medians(full_run):
    result, report = full_run
    analysis = result["analysis"]
    rows = analysis["per_image"]
    backbone = analysis["backbone_ms"]
    feature_ms = sorted(r["median_ms"] for r in rows["features"].values())
    assert backbone == pytest.approx(sum(feature_ms) / 2) and backbone > 0  # median of two images
    fixed = analysis["fits"][FIXED]
    fixed_e2e = sorted(r["median_ms"] for r in rows[FIXED].values())
    assert fixed["per_step_ms"] == pytest.approx((sum(fixed_e2e) / 2 - backbone) / LOOP_STEPS)  # median of two = mean
    assert "backbone" in fixed["method"]
    # the rewrite's point: far fewer ops per decode step than upstream's loop, in both modes
    upstream_ops = analysis["fits"]["upstream"]["exported_ops_per_step"]
    for name in (f"overlay-early_stop-K{INTERVAL}", FIXED):
        assert analysis["fits"][name]["exported_ops_per_step"] < upstream_ops / 2, name
    for target in analysis["targets"]:
        assert target["status"] in ("pass", "fail") and target["checks"], target
        assert target["status"] == ("pass" if all(c["pass"] for c in target["checks"]) else "fail")
        assert f"**{target['status'].upper()}**" in report
    assert all(f"`{name}`" in report for name in rows)
    # cold start: one fresh process per model, creation and first run measured apart
    cold = analysis["cold_start"]
    assert set(cold) == set(rows) - {"upstream-dygraph"}  # no export: nothing to create a predictor from
    for c in cold.values():
        assert c["processes"] == 1 and c["cold_s"] == pytest.approx(c["create_s"] + c["first_run_s"])
    assert "Cold start" in report


@pytest.mark.upstream
def test_trees_of_the_wrong_kind_are_refused(trees, tmp_path):
    patched, pin = trees
    proc = bench("--tree", pin, "--out", tmp_path / "a")
    assert proc.returncode == 2 and "not a patched tree" in proc.stderr and "decode_mode" in proc.stderr
    proc = bench("--tree", patched, "--pin-tree", patched, "--out", tmp_path / "b")
    assert proc.returncode == 2 and "wants a pristine tree" in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
