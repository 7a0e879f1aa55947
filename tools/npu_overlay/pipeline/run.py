"""One pipeline run: device preflight, export, NPU operator check, upstream's predict_table on
every image, all recorded in ``OUT/records.json``.

    python -m npu_overlay.pipeline --tree build/PaddleOCR --device npu --images DIR --out runs/npu

Exit status: 0 all images recorded, 1 some images failed (named on stderr and in the
records), 2 bad input or an unusable device (one line on stderr, nothing run).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

from npu_overlay import REPO_ROOT, child_env
from npu_overlay.cli import ToolError, missing_dependency
from npu_overlay.exports import find_program
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.device import device_env, precision_preflight, predictor_flags, preflight
from npu_overlay.pipeline.export import export_table_model
from npu_overlay.pipeline.images import list_images
from npu_overlay.pipeline.one_shot import time_predict_table
from npu_overlay.pipeline.tree import check_tree, last_error_line, run_module_in_tree

RECORDER = "npu_overlay.pipeline.record_tables"
RECORDS = "records.json"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"


def _model_dir(given: str | None, cached: str) -> Path:
    if given:
        path = Path(given)
    else:
        from npu_overlay.model_cache import model_dir

        path = model_dir(cached)
    if not path.is_dir():
        raise PipelineError(f"model directory {path} does not exist")
    return path.resolve()


def ocr_models(args) -> dict[str, Path]:
    keys_dir = _model_dir(None, "ppocr_keys_v1") if not args.rec_dict else None
    return {
        "det": _model_dir(args.det_model_dir, "ppocrv4_det"),
        "rec": _model_dir(args.rec_model_dir, "ppocrv4_rec"),
        "rec_dict": Path(args.rec_dict).resolve() if args.rec_dict else keys_dir / "ppocr_keys_v1.txt",
    }


def npu_operator_check(export_dir: str, require_static: bool) -> dict:
    """``npu_overlay.npu_check`` on the export, recorded as it answers (it is a report, not a gate here)."""
    cmd = [sys.executable, "-m", "npu_overlay.npu_check", export_dir, "--json"]
    if require_static:
        cmd.append("--require-static")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=child_env(), capture_output=True, text=True)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {"output": proc.stdout.strip()[-2000:]}
    return {"status": "pass" if proc.returncode == 0 else "fail", "exit_code": proc.returncode,
            "stderr": proc.stderr.strip().splitlines()[-1:] , "result": result}


def prepare_out(out: Path, overwrite: bool) -> None:
    if (out / RECORDS).exists() and not overwrite:
        raise PipelineError(f"{out / RECORDS} exists; pass --overwrite to replace it, or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PipelineError(f"cannot create --out {out}: {exc.strerror}") from None


# measured with Paddle 3.0: oneDNN's bf16 passes segfault on the overlay's table export in either
# format (PIR: in the PIR pass manager; ProgramDesc: in seqpool_cvm_concat_fuse_pass)
BF16_CPU_EXPORT = ("--precision bf16 on the CPU: Paddle 3.0's oneDNN cannot build the overlay's table export in "
                   "bf16; pass --table-model-dir with a ProgramDesc model such as the released SLANet_plus")


def run_pipeline(tree, device: str, images: str, out, checkpoint=None, config=None, options=None,
                 table_model_dir=None, det_model_dir=None, rec_model_dir=None, rec_dict=None,
                 warmup: int = 1, require_static: bool = False, overwrite: bool = False,
                 one_shot: bool = False, precision: str = "fp32") -> dict:
    """Everything the CLI does; returns the records (also written to OUT/records.json)."""
    tree = check_tree(tree)
    out = Path(out).resolve()
    checked = list_images(images)
    parsed = preflight(tree, device)  # before anything slow: an absent NPU stops the run here
    precision_preflight(tree, parsed, precision)  # fp16 on a CPU stops here too
    if precision == "bf16" and (parsed is None or parsed.kind == "cpu") and not table_model_dir:
        raise PipelineError(BF16_CPU_EXPORT)
    models = ocr_models(argparse.Namespace(det_model_dir=det_model_dir, rec_model_dir=rec_model_dir,
                                           rec_dict=rec_dict))
    prepare_out(out, overwrite)

    if table_model_dir:
        export_dir = Path(table_model_dir).resolve()
        if find_program(export_dir) is None:
            raise PipelineError(f"{export_dir} holds no inference model (inference.json/.pdmodel + .pdiparams)")
        export = {"dir": str(export_dir), "program": find_program(export_dir).name, "given": True}
    else:
        export = export_table_model(tree, out, checkpoint, config, options)
    check = npu_operator_check(export["dir"], require_static)

    usable = [c for c in checked if c.problem is None]
    failed = {c.path.name: c.problem for c in checked if c.problem}
    records: dict = {}
    if usable:
        list_file = out / "images.txt"
        list_file.write_text("".join(f"{c.path.resolve()}\n" for c in usable), encoding="utf-8")
        raw = out / "raw_records.json"
        raw.unlink(missing_ok=True)
        upstream_flags = [
            *predictor_flags(tree, device, precision),
            f"--det_model_dir={models['det']}", f"--rec_model_dir={models['rec']}",
            f"--rec_char_dict_path={models['rec_dict']}", f"--table_model_dir={export['dir']}",
            f"--table_char_dict_path={tree / TABLE_DICT}",
        ]
        flags = [f"--image_list={list_file}", f"--record_json={raw}", f"--warmup={warmup}", *upstream_flags,
                 "--show_log=False"]
        log = out / "logs" / "predict_table.log"
        proc = run_module_in_tree(tree, RECORDER, flags, log, device_env(device))
        if proc.returncode != 0 or not raw.is_file():
            raise PipelineError(f"predict_table failed ({log}): {last_error_line(log)}")
        records = json.loads(raw.read_text(encoding="utf-8"))
        raw.unlink()
        if one_shot:  # the script itself, one fresh process per image, as its users run it
            for c in usable:
                if "error" not in records.get(c.path.name, {"error": None}):
                    try:
                        records[c.path.name]["one_shot"] = time_predict_table(tree, c.path.resolve(),
                                                                              upstream_flags, out, device_env(device))
                    except PipelineError as exc:  # the table itself was recorded: keep it, say why
                        records[c.path.name]["one_shot"] = {"error": str(exc)}
    for name, rec in list(records.items()):
        if "error" in rec:
            failed[name] = rec.pop("error")
            del records[name]
    notes = {c.path.name: c.note for c in checked if c.note}
    for name, rec in records.items():
        if name in notes:
            rec["note"] = notes[name]
        if not any(t.startswith("<td") for t in rec.get("tokens", [])):
            rec["note"] = "; ".join(filter(None, [rec.get("note"), "no table cells found"]))
    result = {
        "meta": {"tree": str(tree), "device": device, "precision": precision, "device_resolved": list(parsed) if parsed else None,
                 "export": export, "npu_check": check, "python": platform.python_version(),
                 "paddle": _paddle_version()},
        "images": records,
        "failed": failed,
    }
    (out / RECORDS).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def _paddle_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("paddlepaddle")
    except Exception:
        return None


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, help="directory of table images")
    parser.add_argument("--device", default="cpu", help="cpu, gpu[:ID], npu[:ID] or custom:TYPE[:ID]")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"),
                        help="predictors' precision (default fp32); bf16 on the CPU needs avx512_bf16")
    parser.add_argument("--checkpoint", help="table weights (.pdparams); default: SLANet_plus, converted")
    parser.add_argument("--config", help="export config inside the tree (default: the NPU config if present)")
    parser.add_argument("-o", "--opt", nargs="*", default=[], help="extra export overrides, KEY=VALUE")
    parser.add_argument("--table-model-dir", help="use this exported table model instead of exporting")
    parser.add_argument("--det-model-dir")
    parser.add_argument("--rec-model-dir")
    parser.add_argument("--rec-dict")
    parser.add_argument("--warmup", type=int, default=1, help="images run once before timing (default 1)")
    parser.add_argument("--require-static", action="store_true", help="pass --require-static to the NPU check")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing records.json in --out")
    parser.add_argument("--no-one-shot", dest="one_shot", action="store_false",
                        help="skip timing upstream's predict_table.py as a fresh process per image")


def report_failures(result: dict) -> int:
    for name, problem in result["failed"].items():
        print(f"error: {name}: {problem}", file=sys.stderr)
    print(f"recorded {len(result['images'])} image(s), {len(result['failed'])} failed", file=sys.stderr)
    return 1 if result["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="build/PaddleOCR", help="upstream tree (default build/PaddleOCR)")
    parser.add_argument("--out", required=True, help="output directory; OUT/records.json")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        result = run_pipeline(args.tree, args.device, args.images, args.out, args.checkpoint, args.config,
                              args.opt, args.table_model_dir, args.det_model_dir, args.rec_model_dir,
                              args.rec_dict, args.warmup, args.require_static, args.overwrite, args.one_shot,
                              args.precision)
    except ToolError as exc:  # PipelineError, ModelCacheError, ConversionError: one line, no trace
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        return missing_dependency(exc, "pipeline")
    print(Path(args.out) / RECORDS)
    return report_failures(result)


if __name__ == "__main__":
    sys.exit(main())
