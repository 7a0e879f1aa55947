"""The images of a run: listed, checked one by one, the bad ones named with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from npu_overlay.pipeline import PipelineError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
MIN_SIDE = 32     # smaller than a single table cell: nothing to recognise
MAX_SIDE = 8000   # beyond this decoding alone takes hundreds of MB; tables are never that big


@dataclass
class ImageCheck:
    path: Path
    problem: str | None = None  # None: usable
    note: str | None = None     # usable, but converted (grayscale, alpha)


def _check(path: Path) -> ImageCheck:
    import cv2
    import numpy as np

    data = path.read_bytes()
    if not data:
        return ImageCheck(path, "empty file")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        return ImageCheck(path, "cannot decode the image (corrupt or not an image)")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        return ImageCheck(path, f"too small: {w}x{h} px, under {MIN_SIDE} px")
    if max(h, w) > MAX_SIDE:
        return ImageCheck(path, f"too large: {w}x{h} px, over {MAX_SIDE} px")
    channels = 1 if img.ndim == 2 else img.shape[2]
    note = {1: "grayscale, read as BGR", 2: "grayscale with alpha, read as BGR",
            4: "alpha channel dropped"}.get(channels)
    return ImageCheck(path, None, note)


def list_images(directory: str | Path) -> list[ImageCheck]:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise PipelineError(f"--images {directory} is a file; give the directory that holds the images")
    if not directory.is_dir():
        raise PipelineError(f"image directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise PipelineError(f"{directory} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [_check(p) for p in files]
