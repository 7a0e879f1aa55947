"""Command line for npu_overlay.onnx_export (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from npu_overlay.onnx_export import (ATC_OPSET_MAX, ATC_OPSET_MIN, DEFAULT_OPSET, STATIC_DECODE_OPTIONS,
                               OnnxExportError)


def paddle_export(args) -> Path:
    """Upstream's export_model.py with the fully unrolled decode; returns the export directory."""
    from npu_overlay.cli import ToolError
    from npu_overlay.pipeline.export import export_table_model
    from npu_overlay.pipeline.tree import check_tree

    try:
        tree = check_tree(args.tree)
        done = export_table_model(tree, Path(args.work).resolve(), checkpoint=args.checkpoint,
                                  config=args.config, options=STATIC_DECODE_OPTIONS + list(args.opt or []))
    except ToolError as exc:  # PipelineError; ModelCacheError, ConversionError for the default weights
        raise OnnxExportError(str(exc)) from None
    return Path(done["dir"])


def export_onnx(export_dir: Path, out: Path, opset: int = DEFAULT_OPSET, threads: int = 2,
                timing: bool = True) -> tuple[dict, bool]:
    """Convert, simplify, check; write ``out`` only when the check passes. Returns (report, ok)."""
    import onnx

    from npu_overlay.onnx_export.check import check
    from npu_overlay.onnx_export.convert import find_paddle_export, paddle_to_onnx, refuse_dynamic
    from npu_overlay.onnx_export.simplify import session_open_seconds, simplify

    program, params = find_paddle_export(export_dir)
    refuse_dynamic(program)
    start = time.perf_counter()
    raw = paddle_to_onnx(program, params, opset)
    converted = time.perf_counter()
    final = simplify(raw)
    simplified = time.perf_counter()
    result = check(final)
    report = {
        "source": str(program), "onnx": str(out), "opset": opset, "atc_opsets": [ATC_OPSET_MIN, ATC_OPSET_MAX],
        "static_decode_options": STATIC_DECODE_OPTIONS,
        "seconds": {"convert": round(converted - start, 2), "simplify": round(simplified - converted, 2)},
        "nodes": {"raw": len(raw.graph.node), "simplified": result.nodes},
        "identity": {"raw": sum(n.op_type == "Identity" for n in raw.graph.node),
                     "simplified": result.op_counts.get("Identity", 0)},
        "inputs": result.inputs, "outputs": result.outputs, "op_counts": result.op_counts,
        "problems": result.problems, "ok": result.ok,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        onnx.save(final, staged)
        if timing:
            raw_file = Path(tmp) / "raw.onnx"
            onnx.save(raw, raw_file)
            report["session_open_s"] = {"threads": threads, "raw": round(session_open_seconds(raw_file, threads), 2),
                                        "simplified": round(session_open_seconds(staged, threads), 2)}
        if result.ok:
            os.replace(staged, out)  # nothing half-written: the file appears whole or not at all
    return report, result.ok


def render(report: dict) -> str:
    lines = [f"source      {report['source']}",
             f"opset       {report['opset']} (ATC parses {report['atc_opsets'][0]}-{report['atc_opsets'][1]})"]
    lines += [f"input       {name} {dims}" for name, dims in report["inputs"].items()]
    lines += [f"output      {name} {dims}" for name, dims in report["outputs"].items()]
    lines.append(f"nodes       {report['nodes']['raw']} -> {report['nodes']['simplified']} "
                 f"(Identity {report['identity']['raw']} -> {report['identity']['simplified']})")
    if "session_open_s" in report:
        t = report["session_open_s"]
        lines.append(f"ort open    {t['raw']} s -> {t['simplified']} s ({t['threads']} threads)")
    top = ", ".join(f"{op} {n}" for op, n in list(report["op_counts"].items())[:8])
    lines.append(f"ops         {top}, ...")
    if report["ok"]:
        lines.append(f"check       pass: static shapes, no control flow or scatter; wrote {report['onnx']}")
    else:
        lines += [f"problem     {p}" for p in report["problems"]]
        lines.append("check       FAILED: no model written")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m npu_overlay.onnx_export",
                                     description="Static ONNX of a fixed-decode table export for ATC, "
                                                 "onnxruntime-cann and upstream's --use_onnx.")
    parser.add_argument("export", nargs="?", help="Paddle export directory made with "
                                                  f"{' '.join(STATIC_DECODE_OPTIONS)} (or give --tree)")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset, {ATC_OPSET_MIN}-{ATC_OPSET_MAX} (default {DEFAULT_OPSET}: CANN 6.x and 7.x+)")
    parser.add_argument("--report", help="write the report as JSON here (default: OUT with .json)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads for the open-time measurement")
    parser.add_argument("--no-timing", action="store_true", help="skip timing onnxruntime's session open")
    export = parser.add_argument_group("export from an upstream tree first (python apply.py builds one)")
    export.add_argument("--tree", help="patched PaddleOCR tree; exports with the fully unrolled decode")
    export.add_argument("--work", default="runs/onnx", help="where the Paddle export and weights go")
    export.add_argument("--checkpoint", help="weights (.pdparams); default: SLANet_plus, converted")
    export.add_argument("--config", help="table config in the tree (default: the NPU config)")
    export.add_argument("-o", "--opt", action="append", help="extra export_model.py override, KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        if bool(args.export) == bool(args.tree):
            raise OnnxExportError("give either an export directory or --tree, not both or neither")
        if not ATC_OPSET_MIN <= args.opset <= ATC_OPSET_MAX:
            raise OnnxExportError(f"--opset {args.opset}: ATC parses opset {ATC_OPSET_MIN}-{ATC_OPSET_MAX}")
        out = Path(args.out)
        if out.suffix != ".onnx":
            raise OnnxExportError(f"--out {out}: expected a .onnx file name")
        export_dir = paddle_export(args) if args.tree else Path(args.export)
        report, ok = export_onnx(export_dir, out, args.opset, args.threads, timing=not args.no_timing)
    except OnnxExportError as exc:
        print(f"onnx_export: error: {exc}", file=sys.stderr)
        return 2
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
