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
from npu_overlay.cli import run_command
from npu_overlay.exports import find_program
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.export import export_table_model
from npu_overlay.pipeline.one_shot import time_predict_table
from npu_overlay.pipeline.settings import RunSettings, add_run_arguments, settings_from_args
from npu_overlay.pipeline.tree import last_error_line, run_module_in_tree

RECORDER = "npu_overlay.pipeline.record_tables"
RECORDS = "records.json"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"


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


def static_onnx(settings: RunSettings, out: Path) -> dict:
    """The table model's loop-free export converted to the static ONNX (npu_overlay.onnx_export);
    ``dir`` is the .onnx file, which upstream's --use_onnx takes as --table_model_dir."""
    from npu_overlay.onnx_export import STATIC_DECODE_OPTIONS, OnnxExportError
    from npu_overlay.onnx_export.__main__ import export_onnx

    table = settings.table_model
    export = export_table_model(settings.tree, out, table.checkpoint, table.config,
                                [*STATIC_DECODE_OPTIONS, *table.options])
    model = out / "table.onnx"
    try:
        report, ok = export_onnx(Path(export["dir"]), model, timing=False)
    except OnnxExportError as exc:
        raise PipelineError(str(exc)) from None
    if not ok:
        raise PipelineError(f"the static ONNX failed its checks: {'; '.join(report['problems'])}")
    return {**export, "paddle_dir": export["dir"], "dir": str(model), "program": model.name,
            "onnx": {k: report[k] for k in ("opset", "nodes")}}


def run_pipeline(settings: RunSettings) -> dict:
    """Everything the CLI does; returns the records (also written to OUT/records.json)."""
    out, tree = settings.out, settings.tree
    prepare_out(out, settings.overwrite)
    table = settings.table_model
    if table.given is not None:
        program = table.given.name if settings.onnx else find_program(table.given).name
        export = {"dir": str(table.given), "program": program, "given": True}
    elif settings.onnx:
        export = static_onnx(settings, out)
    else:
        export = export_table_model(tree, out, table.checkpoint, table.config, list(table.options))
    check = npu_operator_check(export["dir"], settings.require_static)

    usable = [c for c in settings.images if c.problem is None]
    failed = {c.path.name: c.problem for c in settings.images if c.problem}
    records: dict = {}
    if usable:
        list_file = out / "images.txt"
        list_file.write_text("".join(f"{c.path.resolve()}\n" for c in usable), encoding="utf-8")
        raw = out / "raw_records.json"
        raw.unlink(missing_ok=True)
        upstream_flags = [
            *settings.predictor_flags,
            f"--det_model_dir={settings.ocr.det}", f"--rec_model_dir={settings.ocr.rec}",
            f"--rec_char_dict_path={settings.ocr.rec_dict}", f"--table_model_dir={export['dir']}",
            f"--table_char_dict_path={tree / TABLE_DICT}",
        ]
        flags = [f"--image_list={list_file}", f"--record_json={raw}", f"--warmup={settings.warmup}",
                 *upstream_flags, "--show_log=False"]
        log = out / "logs" / "predict_table.log"
        proc = run_module_in_tree(tree, RECORDER, flags, log, settings.env)
        if proc.returncode != 0 or not raw.is_file():
            raise PipelineError(f"predict_table failed ({log}): {last_error_line(log)}")
        records = json.loads(raw.read_text(encoding="utf-8"))
        raw.unlink()
    for name, rec in list(records.items()):
        if "error" in rec:
            failed[name] = rec.pop("error")
            del records[name]
    if settings.one_shot:  # the script itself, one fresh process per recorded image, as its users run it
        paths = {c.path.name: c.path.resolve() for c in usable}
        for name, rec in records.items():
            try:
                rec["one_shot"] = time_predict_table(tree, paths[name], upstream_flags, out, settings.env)
            except PipelineError as exc:  # the table itself was recorded: keep it, say why
                rec["one_shot"] = {"error": str(exc)}
    notes = {c.path.name: c.note for c in settings.images if c.note}
    for name, rec in records.items():
        if name in notes:
            rec["note"] = notes[name]
        if not any(t.startswith("<td") for t in rec.get("tokens", [])):
            rec["note"] = "; ".join(filter(None, [rec.get("note"), "no table cells found"]))
    result = {
        "meta": {"tree": str(tree), "device": settings.device, "precision": settings.precision,
                 "runtime": "onnxruntime" if settings.onnx else "paddle-inference",
                 "device_resolved": list(settings.resolved_device) if settings.resolved_device else None,
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

    def work() -> int:
        result = run_pipeline(settings_from_args(args, args.tree, args.out))
        print(Path(args.out) / RECORDS)
        return report_failures(result)

    return run_command("pipeline", work)


if __name__ == "__main__":
    sys.exit(main())
