"""Upstream's own table scripts with --use_onnx (overlay patch 0007) in the patched tree:
the static ONNX that npu_overlay.onnx_export makes from the tree runs on the CPU provider with
pristine upstream's tokens (recorded in tests/data/records/reference_cpu.json),
predict_table.py --use_onnx runs det, rec and table all as ONNX with the tables of its Paddle
Inference run, and --device npu refuses to run when onnxruntime has no CANN provider (there is no NPU here)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npu_overlay.pipeline.tree import tree_env

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data" / "tables"
REFERENCE = ROOT / "tests" / "data" / "records" / "reference_cpu.json"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"
CANN_VARS = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")


def _in_tree(tree, script, *args):
    env = {k: v for k, v in tree_env(tree).items() if k not in CANN_VARS}
    return subprocess.run([sys.executable, script, *map(str, args)], cwd=tree, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def static_onnx(patched_tree, tmp_path_factory):
    work = tmp_path_factory.mktemp("onnx")
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.onnx_export", "--tree", str(patched_tree),
                           "--work", str(work), "--out", str(work / "model.onnx"), "--no-timing"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return work / "model.onnx"


@pytest.mark.upstream
def test_predict_structure_runs_the_static_onnx_with_upstreams_tokens(patched_tree, static_onnx, tmp_path):
    proc = _in_tree(patched_tree, "ppstructure/table/predict_structure.py", "--use_onnx", "True",
                    "--device", "cpu", "--table_model_dir", static_onnx, "--table_char_dict_path",
                    TABLE_DICT, "--image_dir", TABLES, "--output", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [ast.literal_eval("(" + line[len("result: "):] + ")")
               for line in (tmp_path / "infer.txt").read_text().splitlines()]
    reference = json.loads(REFERENCE.read_text())["images"]
    names = sorted(p.name for p in TABLES.glob("*.png"))  # upstream's get_image_file_list sorts too
    assert len(results) == len(names) == len(reference)
    for name, (tokens, boxes) in zip(names, results):
        assert tokens == reference[name]["tokens"], name
        # the reference keeps two decimals
        np.testing.assert_allclose(boxes, reference[name]["boxes"], rtol=0, atol=1.0, err_msg=name)


def _show_html(out: Path) -> dict[str, str]:
    """predict_table.py's show.html: each image's table HTML, by image name."""
    rows = re.findall(r"<td> (\S+) <br/>.*?<td><table  border=\"1\">(.*?)</table></td>",
                      (out / "show.html").read_text(encoding="utf-8"), flags=re.S)
    return dict(rows)


def _structure(html: str) -> str:
    return re.sub(r">[^<]*<", "><", html)  # the tags alone: what the table model decides


def _cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", html)


@pytest.mark.upstream
def test_predict_table_runs_det_rec_and_table_as_onnx(patched_tree, static_onnx, slanet_plus_dir, tmp_path):
    """ONNX det + rec (PP-OCRv4 as RapidOCR ships it) + the static table ONNX, against the same
    tree on Paddle Inference (PP-OCRv4 det + rec, upstream's SLANet_plus export)."""
    from npu_overlay.model_cache import model_dir

    keys = model_dir("ppocr_keys_v1") / "ppocr_keys_v1.txt"
    onnx_ocr = model_dir("ppocrv4_onnx")
    runs = {
        "paddle": ["--table_model_dir", slanet_plus_dir, "--det_model_dir", model_dir("ppocrv4_det"),
                   "--rec_model_dir", model_dir("ppocrv4_rec")],
        "onnx": ["--use_onnx", "True", "--table_model_dir", static_onnx,
                 "--det_model_dir", onnx_ocr / "ch_PP-OCRv4_det_infer.onnx",
                 "--rec_model_dir", onnx_ocr / "ch_PP-OCRv4_rec_infer.onnx"],
    }
    html = {}
    for name, flags in runs.items():
        proc = _in_tree(patched_tree, "ppstructure/table/predict_table.py", "--device", "cpu", *flags,
                        "--rec_char_dict_path", keys, "--table_char_dict_path", TABLE_DICT,
                        "--image_dir", TABLES, "--output", tmp_path / name)
        assert proc.returncode == 0, proc.stderr[-2000:]
        html[name] = _show_html(tmp_path / name)
    assert sorted(html["onnx"]) == sorted(html["paddle"]) == sorted(p.name for p in TABLES.glob("*.png"))
    same_text = total = 0
    for image, theirs in html["paddle"].items():
        ours = html["onnx"][image]
        assert _structure(ours) == _structure(theirs), image
        cells = list(zip(_cells(ours), _cells(theirs)))
        same_text += sum(a == b for a, b in cells)
        total += len(cells)
    # onnxruntime's det/rec may round differently from Paddle's: the OCR text is allowed to
    # drift a little (identical here on all 7 tables), the structure is not
    assert same_text >= 0.95 * total, f"{same_text}/{total} cells with the same text"


@pytest.mark.upstream
@pytest.mark.parametrize("script", ["ppstructure/table/predict_structure.py", "ppstructure/table/predict_table.py"])
def test_npu_with_onnx_refuses_without_the_cann_provider(patched_tree, script, tmp_path):
    from npu_overlay.model_cache import model_dir

    onnx_model = model_dir("slanet_en_onnx") / "en_ppstructure_mobile_v2_SLANet.onnx"
    proc = _in_tree(patched_tree, script, "--use_onnx", "True", "--device", "npu", "--table_model_dir",
                    onnx_model, "--det_model_dir", onnx_model, "--rec_model_dir", onnx_model,
                    "--table_char_dict_path", TABLE_DICT, "--image_dir", TABLES, "--output", tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "CANNExecutionProvider" in lines[0] and "onnxruntime-cann" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "infer.txt").exists() and "result:" not in proc.stdout


@pytest.mark.upstream
def test_fidelity_report_on_the_sample_tables(static_onnx, tmp_path):
    """npu_overlay.onnx_fidelity: the whole model's ONNX against its Paddle fixed export and upstream's
    SLANet_plus export (slow: Paddle Inference takes minutes before the first fixed-decode result)."""
    out = tmp_path / "fidelity"
    proc = subprocess.run([sys.executable, "-m", "npu_overlay.onnx_fidelity", "--export", str(static_onnx.parent / "export"),
                           "--onnx", str(static_onnx), "--images", str(TABLES), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "fidelity.json").read_text())["summary"]
    samples = len(list(TABLES.glob("*.png")))
    for key in ("vs_paddle_fixed", "vs_upstream"):
        assert summary[key]["tokens_equal"] == summary[key]["of"] == samples
        assert summary[key]["max_box_diff_px"] <= 1.0
    assert "**PASS**" in (out / "fidelity.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "npu_overlay.onnx_fidelity", "--export", str(tmp_path), "--onnx",
                          str(static_onnx), "--images", str(TABLES), "--out", str(tmp_path / "x")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "holds no Paddle export" in bad.stderr and not (tmp_path / "x").exists()
