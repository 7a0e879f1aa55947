"""The table head's decode benchmark on the CPU: upstream's export against the overlay's
exports (one per decode strategy), cold and warm, on the same images.

    python -m npu_overlay.bench --tree build/PaddleOCR --out runs/bench \\
        [--pin-tree build/PaddleOCR-pin] [--images tests/data/tables] [--repeats 5] [--threads 2]

Cold: every model's predictor creation, first run and steady runs, each model in fresh
processes (``npu_overlay.bench.cold_start``), interleaved over --cold-rounds rounds. Warm: every
model on every image in one process, interleaved over --repeats rounds.
Writes OUT/bench.json and OUT/report.md (exports and converted weights under OUT/models).
Exit status: 0 measured (whatever the targets say), 1 an overlay model decoded other tokens
than upstream (the timings compare different work), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npu_overlay import REPO_ROOT
from npu_overlay.bench import BenchError
from npu_overlay.bench.models import DEFAULT_STRATEGIES
from npu_overlay.cli import non_negative, positive, run_command

DEFAULT_IMAGES = REPO_ROOT / "tests" / "data" / "tables"


def strategies(text: str) -> list[tuple[str, int | str]]:
    """'early_stop:8,fixed:all' -> [('early_stop', 8), ('fixed', 'all')]"""
    found = []
    for item in (v.strip() for v in text.split(",") if v.strip()):
        mode, _, unroll = item.partition(":")
        if mode not in ("early_stop", "fixed") or not (unroll == "all" and mode == "fixed" or unroll.isdigit()
                                                       and int(unroll) >= 1):
            raise argparse.ArgumentTypeError(f"expected MODE:UNROLL (early_stop:8, fixed:8, fixed:all), got {item!r}")
        found.append((mode, unroll if unroll == "all" else int(unroll)))
    if not found:
        raise argparse.ArgumentTypeError(f"no decode strategy in {text!r}")
    return list(dict.fromkeys(found))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m npu_overlay.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", help="the patched tree (python apply.py); required unless --no-export")
    parser.add_argument("--pin-tree", help="a pristine pin tree (python apply.py --pin-only --tree DIR): "
                                           "adds upstream-pir, upstream's own export in Paddle 3's PIR format")
    parser.add_argument("--out", default="runs/bench", help="output folder (default: runs/bench)")
    parser.add_argument("--images", default=str(DEFAULT_IMAGES), help="folder of table images (default: the samples)")
    parser.add_argument("--repeats", type=positive, default=5, help="timed rounds over all models and images")
    parser.add_argument("--warmup", type=positive, default=2, help="untimed runs per model and image first")
    parser.add_argument("--threads", type=positive, default=2, help="CPU math library threads per predictor")
    parser.add_argument("--strategies", type=strategies, default=list(DEFAULT_STRATEGIES),
                        help="overlay decode strategies to export, MODE:UNROLL,... (default: "
                             + ",".join(f"{m}:{u}" for m, u in DEFAULT_STRATEGIES) + ")")
    parser.add_argument("--onnx", action="store_true",
                        help="also time the static ONNX of fixed:all (npu_overlay.onnx_export) and upstream's English "
                             "SLANet ONNX as RapidTable publishes it, on onnxruntime's CPU provider")
    parser.add_argument("--precisions", action="store_true",
                        help="also time PaddleX's export through oneDNN in fp32 and, where the CPU has "
                             "avx512_bf16, in bf16 (the AMP patch's op lists), with their token agreement")
    parser.add_argument("--int8", nargs="+", default=[], metavar="MODEL.onnx",
                        help="also time these int8 QDQ models of the static ONNX (npu_overlay.quantize_int8) on "
                             "onnxruntime's CPU provider, with their token agreement")
    parser.add_argument("--cold-rounds", type=non_negative, default=2,
                        help="fresh processes per model for the cold start (default 2; 0 skips it)")
    parser.add_argument("--no-export", action="store_true",
                        help="time only PaddleX's upstream export: no tree needed, no overlay, no backbone time")
    parser.add_argument("--quiet-load", type=float, metavar="LOAD",
                        help="after exporting, wait (up to --quiet-wait seconds) until the 1-minute load "
                             "average is under LOAD before timing; other jobs on the CPU skew every number")
    parser.add_argument("--quiet-wait", type=positive, default=1800, help="seconds to wait for --quiet-load")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bench.json in --out")
    return parser.parse_args(argv)


def load_images(folder: str) -> dict:
    from npu_overlay.pipeline import PipelineError
    from npu_overlay.pipeline.images import list_images
    from npu_overlay.table_input import preprocess, read_image

    try:
        checks = list_images(folder)
    except PipelineError as exc:
        raise BenchError(str(exc)) from None
    bad = [c for c in checks if c.problem]
    if bad:
        raise BenchError(f"{bad[0].path}: {bad[0].problem}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    return {c.path.name: preprocess(read_image(c.path))[0] for c in checks}


def wait_for_quiet(load: float, max_seconds: int, log, poll: float = 15.0) -> None:
    import os
    import time

    deadline = time.monotonic() + max_seconds
    while (current := os.getloadavg()[0]) >= load:
        if time.monotonic() > deadline:
            raise BenchError(f"the 1-minute load average stayed at or above {load} for {max_seconds} s "
                             f"(now {current:.2f}); nothing timed")
        log(f"load average {current:.2f} >= {load}: waiting")
        time.sleep(poll)


def run(args, log) -> dict:
    from npu_overlay.bench import analysis, models, report
    from npu_overlay.bench.measure import measure
    from npu_overlay.bench.predictors import config_summary

    out = Path(args.out)
    if (out / "bench.json").exists() and not args.overwrite:
        raise BenchError(f"{out / 'bench.json'} exists; pass --overwrite to replace it, or choose another --out")
    if args.no_export and (args.tree or args.pin_tree):
        raise BenchError("--no-export times PaddleX's export only: drop --tree/--pin-tree, or drop --no-export")
    if not args.no_export and not args.tree:
        raise BenchError("--tree is required (the patched tree from `python apply.py`), or pass --no-export")
    tree = None if args.no_export else models.check_overlay_tree(args.tree)
    pin_tree = models.check_pin_tree(args.pin_tree) if args.pin_tree else None
    batches = load_images(args.images)

    work = out.resolve() / "models"  # exports run with cwd = the tree
    bench_models, notes = models.prepare_models(work, tree, pin_tree, args.strategies, log, onnx=args.onnx,
                                                  precisions=args.precisions, int8=args.int8)
    if args.onnx and ("fixed", "all") not in args.strategies and tree is not None:
        notes.append("no static ONNX of the overlay: --strategies has no fixed:all to convert")
    if args.quiet_load is not None:
        wait_for_quiet(args.quiet_load, args.quiet_wait, log)
    env = report.environment(args.threads, args.repeats, args.warmup, config_summary(args.threads))
    cold_image = Path(args.images) / sorted(batches)[0]
    env["cold_start_image"], env["cold_rounds"] = cold_image.name, args.cold_rounds
    cold = cold_starts(bench_models, cold_image, args.threads, args.cold_rounds, log)
    log(f"timing {len(bench_models)} models on {len(batches)} images, {args.repeats} rounds")
    measurement = measure(bench_models, batches, args.threads, args.repeats, args.warmup, log)
    env["load_average_after"] = report.load_average()
    result = {"environment": env, "images": list(batches), "models": [m.to_json(out) for m in bench_models],
              "notes": notes, "analysis": analysis.analyse(measurement, cold)}
    json_path, md_path = report.write(out, result)
    log(f"wrote {json_path} and {md_path}")
    return result


def cold_starts(bench_models, image: Path, threads: int, rounds: int, log) -> dict[str, list[dict]]:
    """model -> one cold-start record per fresh process; the model order rotates every round."""
    from npu_overlay.bench.cold_start import cold_start_in_fresh_process

    # a dygraph model has no export to start from; a precision row's cold start is the reference's
    exported = [m for m in bench_models if m.tree is None and m.kind != "precision"]
    cold: dict[str, list[dict]] = {m.name: [] for m in exported}
    for round_ in range(rounds):
        shift = round_ % len(exported)
        for model in exported[shift:] + exported[:shift]:
            log(f"cold start {round_ + 1}/{rounds}: {model.name}")
            cold[model.name].append(cold_start_in_fresh_process(model.program, str(image), threads, runs=3))
    return cold if rounds else {}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message):
        print(message, file=sys.stderr)

    def work() -> int:
        result = run(args, log)
        for target in result["analysis"]["targets"]:
            log(f"{target['status'].upper()}: {target['text']}")
        mismatches = result["analysis"]["token_mismatches"]
        if mismatches:
            log(f"error: {len(mismatches)} (model, image) pairs decode other tokens than upstream; see report.md")
            return 1
        return 0

    # BenchError, ConversionError, ModelCacheError, PipelineError; paddle, numpy missing
    return run_command("bench", work)


if __name__ == "__main__":
    sys.exit(main())
