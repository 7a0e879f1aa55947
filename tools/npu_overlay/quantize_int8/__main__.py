"""Command line for npu_overlay.quantize_int8 (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from pathlib import Path

from npu_overlay.quantize_int8 import CALIBRATION_SEED, EVALUATION_SEED, VARIANTS, QuantizeError
from npu_overlay.quantize_int8.quantize import METHODS

FP32 = "fp32"


def _inputs(args):
    from npu_overlay.quantize_int8.calibration import table_images, table_seeds

    model = Path(args.model)
    if model.suffix != ".onnx" or not model.is_file():
        raise QuantizeError(f"{model}: no such .onnx model (python -m npu_overlay.onnx_export writes one)")
    calibration = table_images(args.calibration)
    sets = {}
    if args.evaluate:
        if not args.tree:
            raise QuantizeError("--evaluate needs --tree (upstream's TEDS and the structure dictionary)")
        sets["rendered"] = table_images(args.evaluate)[: args.max_tables or None]
        if args.samples:
            sets["samples"] = table_images(args.samples)
        shared = table_seeds(calibration) & set().union(*(table_seeds(v) for v in sets.values()))
        if shared:
            raise QuantizeError(f"calibration and evaluation share table seed(s) {sorted(shared)[:5]}: "
                                "render them with different --seed")
    return model, calibration, sets


def _quantize(args, model, calibration) -> list[dict]:
    from npu_overlay.quantize_int8.quantize import quantize

    done = []
    for variant in args.variants:
        out = Path(args.out) / f"{model.stem}.int8_{variant}.onnx"
        if args.keep and out.is_file():
            import onnx

            from npu_overlay.quantize_int8.graph import select, summarize_qdq
            from npu_overlay.quantize_int8.split import prepare

            fp32, split = prepare(onnx.load(model), variant)
            q, chosen = summarize_qdq(onnx.load(out)), select(fp32, variant)
            info = {"variant": variant, "onnx": str(out), "calibration_tables": len(calibration), "reused": True,
                    "nodes": chosen.counts, "split_matrices": split,
                    "qdq": {"QuantizeLinear": q.quantize_linear, "DequantizeLinear": q.dequantize_linear,
                            "quantized_ops": q.quantized_ops, "per_channel_weights": q.per_channel_weights,
                            "per_tensor_weights": q.per_tensor_weights}, "problems": q.problems}
        else:
            info = quantize(model, out, variant, calibration, args.method)
        print(f"{variant:15s} {out}  quantized: {info['qdq']['quantized_ops']}  "
              f"Q/DQ {info['qdq']['QuantizeLinear']}/{info['qdq']['DequantizeLinear']}"
              + "".join(f"\n         problem: {p}" for p in info["problems"]))
        done.append(info)
    return done


def _evaluate(args, model, quantized, sets, calibration) -> dict:
    import onnxruntime

    from npu_overlay.quantize_int8.calibration import batches
    from npu_overlay.quantize_int8.evaluate import (box_deviation, character_list, cpu_flags, latency, run_tables,
                                              teds_struct, truth_html)
    from npu_overlay.quantize_int8.report import summarize

    tree = Path(args.tree)
    chars = character_list(tree)
    models = {FP32: model, **{f"int8_{q['variant']}": Path(q["onnx"]) for q in quantized}}
    per_table, pairs, decoded = {}, {}, {}
    for set_name, images in sets.items():
        inputs = batches(images)
        print(f"decoding {len(inputs)} {set_name} tables with {len(models)} models", flush=True)
        decoded[set_name] = run_tables(models, inputs, chars, args.threads)
        for image in images:
            for name in models:
                pairs[f"{set_name}/{image.stem}/{name}"] = [truth_html(image), decoded[set_name][name][image.stem].html]
    scores = teds_struct(tree, pairs, Path(args.out) / "teds")
    for set_name, images in sets.items():
        found = decoded[set_name]
        per_table[set_name] = {
            image.stem: {name: {"teds": scores[f"{set_name}/{image.stem}/{name}"],
                                "tokens_equal": found[name][image.stem].tokens == found[FP32][image.stem].tokens,
                                "box_dev_px": box_deviation(found[name][image.stem], found[FP32][image.stem])}
                         for name in models}
            for image in images}
    timed = sets.get("samples") or sets["rendered"][:7]
    print(f"timing {len(models)} models on {len(timed)} tables, {args.rounds} interleaved rounds", flush=True)
    latency_ms = latency(models, {p.stem: b for p, (b, _) in zip(timed, batches(timed).values())}, args.threads,
                         args.rounds)
    cpu = cpu_flags()
    cpu["cores"] = len(os.sched_getaffinity(0))
    return {
        "command": "python -m npu_overlay.quantize_int8 " + shlex.join(sys.argv[1:]),
        "environment": {"onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
                        "threads": args.threads, "rounds": args.rounds, "latency_tables": len(timed), "cpu": cpu},
        "calibration": {"seed": args.calibration_seed, "tables": len(calibration), "method": args.method},
        "evaluation_seed": args.evaluation_seed,
        "quantized": quantized, "latency_ms": latency_ms, "per_table": per_table,
        "summary": summarize(per_table, latency_ms),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m npu_overlay.quantize_int8",
                                     description="int8 QDQ models of a static ONNX table model (for AMCT and ATC), "
                                                 "measured against fp32 on accuracy and onnxruntime CPU speed.")
    parser.add_argument("model", help="static ONNX of the whole table model (python -m npu_overlay.onnx_export)")
    parser.add_argument("--calibration", required=True, type=Path,
                        help=f"rendered tables to calibrate on (python -m npu_overlay.render_tables --seed {CALIBRATION_SEED})")
    parser.add_argument("--out", required=True, type=Path, help="folder for the int8 models")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="; ".join(f"{name}: {v.about}" for name, v in VARIANTS.items()))
    parser.add_argument("--method", choices=METHODS, default="percentile",
                        help="activation calibration (default percentile: 99.99%% of |x|; minmax cost 0.18 "
                             "TEDS-struct in backbone + neck in an earlier run of this command)")
    parser.add_argument("--keep", action="store_true", help="reuse int8 models already in --out")
    measure = parser.add_argument_group("measure against fp32 and write the report")
    measure.add_argument("--evaluate", type=Path,
                         help=f"rendered tables with known structure (render with --seed {EVALUATION_SEED})")
    measure.add_argument("--samples", type=Path, help="more tables with truth, e.g. tests/data/tables")
    measure.add_argument("--tree", type=Path, help="upstream tree (python apply.py): its TEDS and dictionary")
    measure.add_argument("--report", type=Path, help="folder for int8.json, int8.md, int8.png (default: --out)")
    measure.add_argument("--max-tables", type=int, default=0, help="use the first N evaluation tables (0: all)")
    measure.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    measure.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    measure.add_argument("--calibration-seed", type=int, default=CALIBRATION_SEED, help="recorded in the report")
    measure.add_argument("--evaluation-seed", type=int, default=EVALUATION_SEED, help="recorded in the report")
    args = parser.parse_args(argv)
    try:
        model, calibration, sets = _inputs(args)
        quantized = _quantize(args, model, calibration)
        if any(q["problems"] for q in quantized):
            print("check       FAILED: a QDQ graph is not in the form AMCT takes", file=sys.stderr)
            return 1
        if sets:
            from npu_overlay.quantize_int8.report import write

            result = _evaluate(args, model, quantized, sets, calibration)
            json_path, md_path = write(args.report or args.out, result)
            print(md_path.read_text(encoding="utf-8"))
            print(f"wrote {json_path} and {md_path}")
    except QuantizeError as exc:
        print(f"quantize_int8: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
