"""The decode benchmark (npu_overlay.bench) on real exports and real table images.

Offline: PaddleX's SLANet_plus export timed for real on two sample tables (``--no-export``),
and the analysis run on a real measurement. Nothing here expects a timing: the checks are
the structure of bench.json/report.md and that the derived numbers follow from the measured
ones (steps from the model's own outputs, fits through the medians, ratios, verdicts).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference_runner import run_inference_model
from npu_overlay import child_env

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data" / "tables"
TWO_TABLES = ("grid_5x4.png", "grid_12x6.png")  # different lengths, so a line can be fitted


def bench(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "npu_overlay.bench", *map(str, args)], cwd=cwd, env=child_env(),
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    for name in TWO_TABLES:
        shutil.copyfile(TABLES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def no_export_run(two_tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = bench("--no-export", "--images", two_tables, "--out", out, "--repeats", 2, "--warmup", 1,
                 "--threads", 1, "--cold-rounds", 2)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "bench.json").read_text()), (out / "report.md").read_text()


def test_no_export_run_records_environment_models_and_images(no_export_run):
    _, result, _ = no_export_run
    env = result["environment"]
    assert env["threads"] == 1 and env["repeats"] == 2 and env["paddle"] and env["cpu"] and env["date"]
    assert env["predictor"]["onednn"] is False
    assert [m["name"] for m in result["models"]] == ["upstream"]
    assert result["models"][0]["program"].endswith("inference.pdmodel")
    assert "/" not in result["models"][0]["program"].split(": ", 1)[0]  # no machine path recorded
    assert result["images"] == sorted(TWO_TABLES)
    assert any("--no-export" in note for note in result["notes"])


def test_cold_start_is_measured_in_fresh_processes(no_export_run):
    _, result, report = no_export_run
    (name, cold), = result["analysis"]["cold_start"].items()
    assert name == "upstream" and cold["processes"] == 2
    assert cold["create_s"] > 0 and cold["first_run_s"] > 0 and cold["steady_s"] > 0
    assert cold["cold_s"] == pytest.approx(cold["create_s"] + cold["first_run_s"])
    assert result["environment"]["cold_start_image"] == sorted(TWO_TABLES)[0]
    assert "## Cold start" in report and f"| `upstream` | – | {cold['create_s']:.2f} |" in report
    target = next(t for t in result["analysis"]["targets"] if t["id"] == "npu_config_cold_start")
    assert target["status"] == "not evaluated"  # no overlay model without a tree


def test_report_shows_the_latency_plot(no_export_run):
    out, _, report = no_export_run
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![ms per table against decode steps](latency.png)" in report


def test_steps_are_those_of_the_models_own_outputs(no_export_run, slanet_plus_dir):
    from npu_overlay.table_input import preprocess, read_image

    _, result, _ = no_export_run
    for image, row in result["analysis"]["per_image"]["upstream"].items():
        batch, _ = preprocess(read_image(TABLES / image))
        _, structure = run_inference_model(slanet_plus_dir, batch)  # the executor, not the benchmark's predictor
        tokens = structure[0].argmax(-1)
        assert row["steps_run"] == structure.shape[1]
        eos = structure.shape[-1] - 1  # the dictionary's last class
        assert tokens[row["sequence_steps"] - 1] == eos
        assert eos not in tokens[1:row["sequence_steps"] - 1]
        assert row["sequence_steps"] <= row["steps_run"]


def test_fit_and_medians_follow_from_the_samples(no_export_run):
    _, result, _ = no_export_run
    rows = result["analysis"]["per_image"]["upstream"]
    for row in rows.values():
        assert len(row["samples_ms"]) == 2
        assert row["median_ms"] == pytest.approx(np.median(row["samples_ms"]), abs=1e-3)
        assert row["min_ms"] == pytest.approx(min(row["samples_ms"]), abs=1e-3)
    fit = result["analysis"]["fits"]["upstream"]
    (s1, t1), (s2, t2) = sorted((r["steps_run"], r["median_ms"]) for r in rows.values())
    # two points: the least-squares line goes through both
    assert fit["per_step_ms"] == pytest.approx((t2 - t1) / (s2 - s1), rel=1e-6)
    assert fit["intercept_ms"] + fit["slope_ms"] * s1 == pytest.approx(t1, rel=1e-6)
    assert fit["per_step_ratio_vs_upstream"] == pytest.approx(1.0)
    # upstream's loop body as PaddleX exported it: one step per iteration
    assert fit["exported_ops_per_step"] == int(fit["exported_ops_per_step"]) > 0
    assert fit["us_per_op"] == pytest.approx(1000 * fit["per_step_ms"] / fit["exported_ops_per_step"])
    assert result["analysis"]["backbone_ms"] is None


def test_targets_are_not_evaluated_without_the_overlay(no_export_run):
    _, result, report = no_export_run
    assert [t["id"] for t in result["analysis"]["targets"]] == ["per_step", "early_stop_end_to_end", "fixed_vs_upstream",
                                                              "best_path_end_to_end", "npu_config_cold_start"]
    assert {t["status"] for t in result["analysis"]["targets"]} == {"not evaluated"}
    assert result["analysis"]["token_mismatches"] == []
    assert "**NOT EVALUATED**" in report
    assert "`upstream`" in report and all(image in report for image in TWO_TABLES)


def test_analysis_of_a_real_measurement_against_itself(two_tables, slanet_plus_dir):
    """The upstream export timed twice under two roles: tokens equal, ratios consistent with the
    medians, and the targets failed (a model is not several times cheaper than itself)."""
    from npu_overlay.bench.analysis import analyse
    from npu_overlay.bench.measure import measure
    from npu_overlay.bench.models import BenchModel, reference_model
    from npu_overlay.table_input import preprocess, read_image

    reference = reference_model()
    twin = BenchModel("twin", "overlay", reference.program, "the same export again", "early_stop", 1)
    batches = {p.name: preprocess(read_image(p))[0] for p in sorted(two_tables.iterdir())}
    result = analyse(measure([reference, twin], batches, threads=1, repeats=3, warmup=1, log=lambda _: None))

    rows = result["per_image"]
    assert all(rows["twin"][i]["tokens_equal"] for i in batches)
    assert all(rows["twin"][i]["max_abs_diff_structure"] == 0.0 for i in batches)
    for image in batches:
        assert result["speedup_vs_upstream"]["twin"][image] == pytest.approx(
            rows["upstream"][image]["median_ms"] / rows["twin"][image]["median_ms"])
    per_step = next(t for t in result["targets"] if t["id"] == "per_step")
    (check,) = per_step["checks"]
    assert check["pass"] is False and per_step["status"] == "fail"
    early = next(t for t in result["targets"] if t["id"] == "early_stop_end_to_end")
    assert early["checks"][0]["images"] == len(batches)  # both tables are 30-250 steps long
    assert early["checks"][0]["pass"] is False and early["status"] == "fail"
    fixed = next(t for t in result["targets"] if t["id"] == "fixed_vs_upstream")
    assert fixed["status"] == "not evaluated"  # no fixed-mode model


# ---- bad input: one line, exit 2 ----------------------------------------------------------


def _one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_an_int8_model_that_is_not_an_onnx_file_is_bad_input(tmp_path):
    (tmp_path / "model.int8_head.pdmodel").write_text("")
    for given in (tmp_path / "model.int8_head.pdmodel", tmp_path / "missing.int8_head.onnx"):
        _one_line_error(bench("--no-export", "--int8", given, "--out", tmp_path / "out"), "--int8", "not an .onnx file")
    assert not (tmp_path / "out").exists()


def test_missing_tree(tmp_path):
    _one_line_error(bench("--tree", tmp_path / "nowhere", "--out", tmp_path / "out"), "not an upstream PaddleOCR tree")
    _one_line_error(bench("--out", tmp_path / "out"), "--tree is required")


def test_tree_without_the_overlay(tmp_path):
    tree = tmp_path / "PaddleOCR"
    for name in ("tools/export_model.py", "ppstructure/table/predict_table.py"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("")
    _one_line_error(bench("--tree", tree, "--out", tmp_path / "out"), "not a patched tree", "decode_mode")
    assert not (tmp_path / "out").exists()


def test_no_images(tmp_path):
    (tmp_path / "empty").mkdir()
    _one_line_error(bench("--no-export", "--images", tmp_path / "empty", "--out", tmp_path / "out"), "has no images")
    _one_line_error(bench("--no-export", "--images", tmp_path / "missing", "--out", tmp_path / "out"), "does not exist")
    assert not (tmp_path / "out").exists()


def test_existing_result_is_kept(no_export_run):
    out, _, _ = no_export_run
    before = (out / "bench.json").read_bytes()
    _one_line_error(bench("--no-export", "--out", out), "--overwrite")
    assert (out / "bench.json").read_bytes() == before


def test_published_english_onnx_is_timed_for_its_costs_not_its_tokens(two_tables, tmp_path):
    """--onnx adds upstream's English SLANet as RapidTable publishes it (a dynamic ONNX with a Loop):
    other weights and vocabulary, so it is timed, cold and warm, and never compared for tokens."""
    out = tmp_path / "bench"
    proc = bench("--no-export", "--onnx", "--images", two_tables, "--out", out, "--repeats", 1, "--warmup", 1,
                 "--threads", 1, "--cold-rounds", 1)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "bench.json").read_text())
    assert [(m["name"], m["kind"]) for m in result["models"]] == [("upstream", "reference"),
                                                                  ("upstream-en-onnx", "foreign")]
    rows = result["analysis"]["per_image"]["upstream-en-onnx"]
    # its outputs are its own tables, never compared with upstream's
    assert all("tokens_equal" not in r and "max_abs_diff_structure" not in r for r in rows.values())
    assert result["analysis"]["token_mismatches"] == []
    assert result["analysis"]["cold_start"]["upstream-en-onnx"]["create_s"] > 0
    assert "upstream-en-onnx" in result["analysis"]["fits"]


def test_precisions_are_timed_beside_fp32_with_their_agreement(two_tables, tmp_path):
    """--precisions adds PaddleX's export through oneDNN in fp32 and, where this CPU runs bf16 (the
    AMP patch's own check), in bf16: timed in the same run, tokens compared with fp32 without being
    required equal."""
    from npu_overlay.engine.patch_files import extract, load_module

    amp = load_module(extract("tools/infer/precision.py", tmp_path), "_amp_for_bench_test")
    out = tmp_path / "bench"
    proc = bench("--no-export", "--precisions", "--images", two_tables, "--out", out, "--repeats", 1,
                 "--warmup", 1, "--threads", 1, "--cold-rounds", 0)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "bench.json").read_text())
    expected = ["upstream-onednn"] + (["upstream-bf16"] if amp.cpu_has_bf16() else [])
    assert [m["name"] for m in result["models"] if m["kind"] == "precision"] == expected
    agreement = result["analysis"]["precisions"]
    # fp32 through oneDNN on the ProgramDesc export decodes upstream's tables (docs/amp.md: 107/107)
    assert agreement["upstream-onednn"]["identical_tokens"] == len(TWO_TABLES)
    for name in expected:
        rows = result["analysis"]["per_image"][name]
        assert all("tokens_equal" in r and len(r["samples_ms"]) == 1 for r in rows.values())  # compared, timed
    assert "## Precisions (oneDNN bf16 and fp32; int8 on onnxruntime)" in (out / "report.md").read_text()
    if not amp.cpu_has_bf16():
        assert any("no avx512_bf16" in note for note in result["notes"])
