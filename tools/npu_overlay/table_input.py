"""The input a SLANet table model expects, prepared without an upstream tree.

Same steps, order and float32 arithmetic as upstream's TableStructurer (ppstructure/table/
predict_structure.py): resize the longest side to ``max_len`` keeping the aspect ratio,
normalise with ImageNet mean/std after /255 (applied to the BGR channels as they come, as
upstream does), pad with zeros at the bottom/right to ``max_len`` x ``max_len``, HWC -> CHW.
Offline tests and benchmarks use this to feed real images to real exports; an
upstream-marked test checks it against upstream's own operators bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_LEN = 488
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 1, 3)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 1, 3)


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, as cv2.imread gives it (grayscale files come back with three channels)."""
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path}: not a readable image")
    return image


def preprocess(image: np.ndarray, max_len: int = MAX_LEN) -> tuple[np.ndarray, np.ndarray]:
    """(batch of one, float32 [1, 3, max_len, max_len]; shape row [h, w, ratio, ratio, max_len, max_len]).

    The shape row is what upstream's TableLabelDecode takes to scale boxes back to the image.
    """
    height, width = image.shape[:2]
    ratio = max_len / (max(height, width) * 1.0)
    resized = cv2.resize(image, (int(width * ratio), int(height * ratio)))
    normalised = (resized.astype("float32") * np.float32(1.0 / 255.0) - MEAN) / STD
    padded = np.zeros((max_len, max_len, 3), dtype=np.float32)
    padded[: normalised.shape[0], : normalised.shape[1], :] = normalised
    batch = padded.transpose((2, 0, 1))[None].copy()
    shape = np.array([height, width, ratio, ratio, max_len, max_len])
    return batch, shape
