"""Patch 0012: upstream's own predict_table.py fails the run when an image cannot be read, after
predicting the images that can be; the pristine pin logs the error and exits 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from npu_overlay.pipeline.one_shot import PREDICT_TABLE
from npu_overlay.pipeline.settings import ocr_models
from npu_overlay.pipeline.tree import run_in_tree

TABLES = Path(__file__).resolve().parent / "data" / "tables"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"

pytestmark = pytest.mark.upstream


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """One real table and one file that is not an image."""
    folder = tmp_path_factory.mktemp("images")
    shutil.copy(TABLES / "grid_12x6.png", folder)
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def _predict_table(tree: Path, images: Path, out: Path, slanet_plus_dir):
    ocr = ocr_models()
    return run_in_tree(tree, [PREDICT_TABLE, f"--image_dir={images}", f"--output={out}",
                              f"--det_model_dir={ocr.det}", f"--rec_model_dir={ocr.rec}",
                              f"--rec_char_dict_path={ocr.rec_dict}", f"--table_model_dir={slanet_plus_dir}",
                              f"--table_char_dict_path={TABLE_DICT}", "--use_gpu=False"], out / "run.log")


@pytest.mark.parametrize("label", ["patched", "pristine"])
def test_an_unreadable_image_fails_only_the_patched_run(label, patched_tree, pin_tree, images,
                                                            slanet_plus_dir, tmp_path):
    tree = patched_tree if label == "patched" else pin_tree
    proc = _predict_table(tree, images, tmp_path, slanet_plus_dir)
    log = (tmp_path / "run.log").read_text(encoding="utf-8", errors="replace")
    assert "error in loading image" in log and "broken.png" in log
    assert "grid_12x6.png" in (tmp_path / "show.html").read_text(encoding="utf-8")  # the real table is predicted
    assert (tmp_path / "grid_12x6.xlsx").is_file()
    if label == "patched":
        assert proc.returncode == 1, log[-2000:]
        assert log.strip().splitlines()[-1] == "1 image(s) could not be read"
    else:  # what the patch changes
        assert proc.returncode == 0, log[-2000:]
