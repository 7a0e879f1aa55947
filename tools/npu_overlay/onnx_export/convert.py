"""Paddle export -> ONNX with paddle2onnx, refusing exports it cannot make static."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from npu_overlay.exports import find_program
from npu_overlay.onnx_export import OnnxExportError, STATIC_DECODE_OPTIONS


def find_paddle_export(path: Path) -> tuple[Path, Path]:
    """(program, params) of an export directory or of its program file."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise OnnxExportError(f"{path}: no such export directory")
    program = find_program(path)
    if program is not None:
        return program, program.with_suffix(".pdiparams")
    raise OnnxExportError(f"{path}: no Paddle export here (expected inference.json or inference.pdmodel "
                          "with inference.pdiparams)")


def refuse_dynamic(program: Path) -> None:
    """Stop before converting an export that cannot give a static ONNX: paddle2onnx 2.x has no
    converter for `while`, and a -1 input dimension stays dynamic in the ONNX."""
    from npu_overlay.npu_check import ModelReadError
    from npu_overlay.npu_check.load import load_graph

    try:
        graph = load_graph(program)
    except ModelReadError as exc:
        raise OnnxExportError(str(exc)) from None
    loops = sorted({op.type for op in graph.top.ops if op.blocks})
    if loops:
        raise OnnxExportError(f"{program}: the export has control flow ({', '.join(loops)}); export it with "
                              f"{' '.join(STATIC_DECODE_OPTIONS)} (fully unrolled decode)")
    dynamic = [f"{spec.name} {spec.shape}" for spec in graph.inputs if any(d < 0 for d in spec.shape)]
    if dynamic:
        raise OnnxExportError(f"{program}: dynamic model input ({'; '.join(dynamic)}); export with "
                              "Architecture.export_input_shape=[1,3,488,488] or an NPU config")


def paddle_to_onnx(program: Path, params: Path, opset: int):
    """The raw paddle2onnx conversion as an onnx.ModelProto."""
    try:
        import onnx
        import paddle2onnx
    except ImportError as exc:
        raise OnnxExportError(f"converting needs paddle2onnx==2.1.0 and onnx ({exc}): "
                              "pip install 'paddle2onnx==2.1.0' onnx") from None
    log, raw, error = io.StringIO(), None, None
    # paddle2onnx logs and swallows its own errors, then fails on an unbound result
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            raw = paddle2onnx.export(os.fspath(program), os.fspath(params), save_file=None,
                                     opset_version=opset, auto_upgrade_opset=False, enable_onnx_checker=True,
                                     enable_optimize=True)
        except Exception as exc:  # noqa: BLE001 - paddle2onnx raises bare Exceptions and NameErrors
            raw, error = None, exc
    if not raw:
        lines = [ln for ln in log.getvalue().splitlines() if "rror" in ln] or [repr(error)]
        raise OnnxExportError(f"paddle2onnx could not convert {program}: {lines[-1].strip()}")
    return onnx.load_from_string(raw)
