"""Calibration and evaluation inputs: rendered tables, pre-processed as upstream does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from npu_overlay.quantize_int8 import QuantizeError
from npu_overlay.table_input import preprocess, read_image


def table_images(folder: Path) -> list[Path]:
    """The PNGs of a npu_overlay.render_tables folder that carry their .json truth, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QuantizeError(f"{folder}: no such folder of rendered tables")
    images = sorted(p for p in folder.glob("*.png") if p.with_suffix(".json").is_file())
    if not images:
        raise QuantizeError(f"{folder}: no table images with a .json beside them (python -m npu_overlay.render_tables)")
    return images


def table_seeds(images: list[Path]) -> set[int]:
    """The per-table render seeds, to prove calibration and evaluation sets disjoint."""
    return {json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))["spec"]["seed"] for p in images}


def batches(images: list[Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (input [1, 3, 488, 488], shape row for TableLabelDecode)."""
    return {p.stem: preprocess(read_image(p)) for p in images}


class ArrayReader:
    """onnxruntime's CalibrationDataReader protocol over ready inputs of a one-input model."""

    def __init__(self, input_name: str, arrays: list[np.ndarray]):
        self.count = len(arrays)
        self._feeds = iter([{input_name: a} for a in arrays])

    def get_next(self):
        return next(self._feeds, None)


def table_reader(input_name: str, images: list[Path]) -> ArrayReader:
    """Calibration over rendered tables, pre-processed as upstream's TableStructurer does."""
    return ArrayReader(input_name, [preprocess(read_image(p))[0] for p in images])
