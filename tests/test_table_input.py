"""The offline table preprocessing: the model input upstream's TableStructurer builds, bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npu_overlay.table_input import MAX_LEN, preprocess, read_image

TABLES = Path(__file__).resolve().parent / "data" / "tables"
IMAGES = sorted(TABLES.glob("*.png"))


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.stem)
def test_longest_side_fills_the_square_and_the_rest_is_zero(path):
    image = read_image(path)
    batch, shape = preprocess(image)
    assert batch.shape == (1, 3, MAX_LEN, MAX_LEN) and batch.dtype == np.float32
    h, w = image.shape[:2]
    content_h, content_w = int(h * shape[2]), int(w * shape[3])
    assert max(content_h, content_w) == MAX_LEN
    assert not batch[0, :, content_h:, :].any() and not batch[0, :, :, content_w:].any()
    # white paper normalises to (1 - mean) / std, the same in every channel order
    assert batch[0, :, :content_h, :content_w].max() > 1.5


def test_unreadable_image_is_refused(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "x.png")


# upstream's own operators, the pipeline predict_structure.py builds for SLANet
UPSTREAM = """
import sys, cv2, numpy as np
from ppocr.data import create_operators, transform
ops = create_operators([
    {"ResizeTableImage": {"max_len": 488}},
    {"NormalizeImage": {"std": [0.229, 0.224, 0.225], "mean": [0.485, 0.456, 0.406], "scale": "1./255.", "order": "hwc"}},
    {"PaddingTableImage": {"size": [488, 488]}}, {"ToCHWImage": None}, {"KeepKeys": {"keep_keys": ["image", "shape"]}}])
out = {}
for i, path in enumerate(sys.argv[2:]):
    image, shape = transform({"image": cv2.imread(path)}, ops)
    out[f"image{i}"], out[f"shape{i}"] = image, shape
np.savez(sys.argv[1], **out)
"""


@pytest.mark.upstream
def test_same_as_upstreams_operators(pin_tree, tmp_path):
    proc = subprocess.run([sys.executable, "-c", UPSTREAM, str(tmp_path / "up.npz"), *map(str, IMAGES)],
                          cwd=pin_tree, env=dict(os.environ, PYTHONPATH=str(pin_tree)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    upstream = np.load(tmp_path / "up.npz")
    for i, path in enumerate(IMAGES):
        batch, shape = preprocess(read_image(path))
        assert upstream[f"image{i}"].dtype == np.float32
        assert batch[0].tobytes() == upstream[f"image{i}"].tobytes(), path.name
        assert np.array_equal(shape, upstream[f"shape{i}"]), path.name
