"""What one pipeline run is asked to do, checked once before anything slow runs.

The command line (``npu_overlay.pipeline`` and each side of ``npu_overlay.pipeline.regress``)
becomes one ``RunSettings``; every check that can fail on bad input happens in
``RunSettings.validated``: the tree, the images, the device and precision (by the tree's own
preflight), the table model and the OCR models. The device reaches upstream's scripts in one
form, the flags and environment the settings derive from it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from npu_overlay.exports import find_program
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.device import PRECISIONS, device_env, precision_preflight, predictor_flags, preflight
from npu_overlay.pipeline.images import ImageCheck, list_images
from npu_overlay.pipeline.tree import check_tree

# measured with Paddle 3.0: oneDNN's bf16 passes segfault on the overlay's table export in either
# format (PIR: in the PIR pass manager; ProgramDesc: in seqpool_cvm_concat_fuse_pass)
BF16_CPU_EXPORT = ("--precision bf16 on the CPU: Paddle 3.0's oneDNN cannot build the overlay's table export in "
                   "bf16; pass --table-model-dir with a ProgramDesc model such as the released SLANet_plus")


@dataclass(frozen=True)
class TableModel:
    """The table model: an existing export (``given``: a folder, or a ``.onnx`` file with
    ``RunSettings.onnx``), or one to export from the tree."""
    given: Path | None = None
    checkpoint: str | None = None           # weights to export (default: SLANet_plus, converted)
    config: str | None = None               # export config inside the tree (default: the NPU config)
    options: tuple[str, ...] = ()           # export overrides, KEY=VALUE


@dataclass(frozen=True)
class OcrModels:
    det: Path
    rec: Path
    rec_dict: Path


@dataclass(frozen=True)
class RunSettings:
    tree: Path
    device: str                             # as given: cpu, gpu[:ID], npu[:ID], custom:TYPE[:ID]
    resolved_device: tuple | None           # the tree's parse of it; None on a tree without --device
    precision: str
    images: tuple[ImageCheck, ...]
    out: Path
    table_model: TableModel
    ocr: OcrModels
    warmup: int = 1
    require_static: bool = False
    overwrite: bool = False
    one_shot: bool = False
    onnx: bool = False                      # det, rec and table on onnxruntime (upstream's --use_onnx)

    @classmethod
    def validated(cls, tree, device: str, images, out, *, precision: str = "fp32",
                  table_model: TableModel = TableModel(), det_model_dir=None, rec_model_dir=None, rec_dict=None,
                  onnx: bool = False, **flags) -> RunSettings:
        """PipelineError naming the first problem; nothing is written."""
        tree = check_tree(tree)
        checked = tuple(list_images(images))
        parsed = preflight(tree, device)  # an absent NPU stops the run here
        precision_preflight(tree, parsed, precision)  # fp16 on a CPU stops here too
        if precision == "bf16" and (parsed is None or parsed.kind == "cpu") and table_model.given is None:
            raise PipelineError(BF16_CPU_EXPORT)
        if onnx and precision != "fp32":
            raise PipelineError("--onnx runs the fp32 ONNX models; --precision applies to Paddle Inference only")
        if table_model.given is not None:
            given = Path(table_model.given).resolve()
            if onnx and not (given.is_file() and given.suffix == ".onnx"):
                raise PipelineError(f"--onnx: --table-model-dir {given} is not a .onnx file (npu_overlay.onnx_export)")
            if not onnx and find_program(given) is None:
                raise PipelineError(f"{given} holds no inference model (inference.json/.pdmodel + .pdiparams)")
            table_model = TableModel(given=given)
        ocr = (onnx_ocr_models if onnx else ocr_models)(det_model_dir, rec_model_dir, rec_dict)
        return cls(tree, device, tuple(parsed) if parsed else None, precision, checked, Path(out).resolve(),
                   table_model, ocr, onnx=onnx, **flags)

    @property
    def predictor_flags(self) -> list[str]:
        """Upstream's flags that put det, rec and table on the device, in the precision."""
        return predictor_flags(self.tree, self.device, self.precision) + (["--use_onnx=True"] if self.onnx else [])

    @property
    def env(self) -> dict[str, str]:
        """Environment for the tree's processes on this device."""
        return device_env(self.device)


def _model_dir(given: str | None, cached: str) -> Path:
    if given:
        path = Path(given)
    else:
        from npu_overlay.model_cache import model_dir

        path = model_dir(cached)
    if not path.is_dir():
        raise PipelineError(f"model directory {path} does not exist")
    return path.resolve()


def rec_dictionary(rec_dict=None) -> Path:
    """The rec model's character dictionary: the given file, else PP-OCRv4's from the model cache."""
    keys = Path(rec_dict).resolve() if rec_dict else _model_dir(None, "ppocr_keys_v1") / "ppocr_keys_v1.txt"
    if not keys.is_file():
        raise PipelineError(f"--rec-dict {keys} is not a file")
    return keys


def ocr_models(det_model_dir=None, rec_model_dir=None, rec_dict=None) -> OcrModels:
    """The PP-OCRv4 det/rec models and dictionary: the given ones, else the cached real ones."""
    return OcrModels(_model_dir(det_model_dir, "ppocrv4_det"), _model_dir(rec_model_dir, "ppocrv4_rec"),
                     rec_dictionary(rec_dict))


# the PP-OCRv4 det/rec ONNX in the model cache's ppocrv4_onnx (as RapidOCR ships them)
ONNX_DET, ONNX_REC = "ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"


def onnx_ocr_models(det_model=None, rec_model=None, rec_dict=None) -> OcrModels:
    """The det/rec ONNX files: the given ones, else PP-OCRv4's from the model cache."""
    cached = None if det_model and rec_model else _model_dir(None, "ppocrv4_onnx")
    models = [Path(given).resolve() if given else cached / name
              for given, name in ((det_model, ONNX_DET), (rec_model, ONNX_REC))]
    for model in models:
        if not (model.is_file() and model.suffix == ".onnx"):
            raise PipelineError(f"--onnx: {model} is not a .onnx file")
    return OcrModels(*models, rec_dictionary(rec_dict))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, help="directory of table images")
    parser.add_argument("--device", default="cpu", help="cpu, gpu[:ID], npu[:ID] or custom:TYPE[:ID]")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="predictors' precision (default fp32); bf16 on the CPU needs avx512_bf16")
    parser.add_argument("--checkpoint", help="table weights (.pdparams); default: SLANet_plus, converted")
    parser.add_argument("--config", help="export config inside the tree (default: the NPU config if present)")
    parser.add_argument("-o", "--opt", nargs="*", default=[], help="extra export overrides, KEY=VALUE")
    parser.add_argument("--table-model-dir", help="use this exported table model instead of exporting "
                                                  "(with --onnx: a .onnx file)")
    parser.add_argument("--det-model-dir", help="(with --onnx: a .onnx file)")
    parser.add_argument("--rec-model-dir", help="(with --onnx: a .onnx file)")
    parser.add_argument("--onnx", action="store_true",
                        help="det, rec and table on onnxruntime (upstream's --use_onnx): the table model is the "
                             "static ONNX of its loop-free export, det/rec PP-OCRv4's ONNX from the model cache")
    parser.add_argument("--rec-dict")
    parser.add_argument("--warmup", type=int, default=1, help="images run once before timing (default 1)")
    parser.add_argument("--require-static", action="store_true", help="pass --require-static to the NPU check")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing records.json in --out")
    parser.add_argument("--no-one-shot", dest="one_shot", action="store_false",
                        help="skip timing upstream's predict_table.py as a fresh process per image")


def settings_from_args(args: argparse.Namespace, tree, out, *, device: str | None = None,
                       candidate: bool = True) -> RunSettings:
    """The settings of ``add_run_arguments``' options for one tree; ``candidate=False`` is the
    pristine reference of a regression: upstream's own table model and precision, on the CPU."""
    table = TableModel(checkpoint=args.checkpoint)
    det, rec = args.det_model_dir, args.rec_model_dir
    if not candidate and args.onnx:  # the candidate's det/rec are ONNX files; the reference runs Paddle's
        det = rec = None
    if candidate:
        table = TableModel(Path(args.table_model_dir) if args.table_model_dir else None, args.checkpoint,
                           args.config, tuple(args.opt))
    return RunSettings.validated(
        tree, device or args.device, args.images, out, precision=args.precision if candidate else "fp32",
        table_model=table, det_model_dir=det, rec_model_dir=rec,
        rec_dict=args.rec_dict, warmup=args.warmup, require_static=args.require_static and candidate,
        overwrite=args.overwrite, one_shot=args.one_shot, onnx=args.onnx and candidate)
