"""oneDNN on and off, side by side: agreement with upstream's model and speed, on the CPU.

    python -m npu_overlay.amp.onednn_check --tree build/PaddleOCR --out docs/onednn
    python -m npu_overlay.amp.onednn_check --table EXPORT_DIR --features EXPORT_DIR --out DIR

``--tree``: export both models from that tree into ``--work`` first (SLANet_plus's weights,
converted): the table model with the NPU config, and backbone + neck alone
(``npu_overlay.bench.features_export``). Or give the exports: ``--table`` (the pipeline's
``export/`` folder) and ``--features``. Every image is decoded by the released
SLANet_plus model without oneDNN (upstream's default, the reference) and by the table export
with oneDNN off and on; the features export runs with oneDNN off and on. The predictors are
configured as the benchmark's (patch 0002's ``configure_for_program``), so a program that patch
keeps off oneDNN is reported with ``onednn: false``. Timing: every predictor is warmed up on
every image, then each round runs every image through every predictor in a rotating order; the
statistic is the median over rounds. Writes OUT/onednn.json, OUT/onednn.md and OUT/onednn.png;
exit 1 when the table export with oneDNN on differs from the reference (tokens, or a box by more
than ``--max-px``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from npu_overlay import REPO_ROOT
from npu_overlay.cli import ToolError, exit_on_missing, positive, run_command

with exit_on_missing("onednn_check", __name__):
    import numpy as np

SAMPLES = REPO_ROOT / "tests" / "data" / "tables"


def _program(directory: Path) -> Path:
    from npu_overlay.exports import find_program

    program = find_program(directory) if directory.is_dir() else None
    if program is None:
        raise ToolError(f"{directory} holds no exported model (inference.json / inference.pdmodel)")
    return program


def export(tree: Path, work: Path) -> tuple[Path, Path]:
    """(table export dir, features export dir) from ``tree``, SLANet_plus's weights converted once."""
    from npu_overlay.bench import BenchError
    from npu_overlay.bench.models import converted_weights, export_features
    from npu_overlay.pipeline import PipelineError
    from npu_overlay.pipeline.export import export_table_model
    from npu_overlay.pipeline.tree import check_tree

    try:
        tree, work = check_tree(tree), work.resolve()
        weights = converted_weights(work)
        features = Path(export_features(tree, work, weights).program).parent
        table = export_table_model(tree, work / "table", checkpoint=str(weights) + ".pdparams")
    except (BenchError, PipelineError) as exc:
        raise ToolError(str(exc)) from None
    return Path(table["dir"]), features


class Runner:
    """One predictor as the benchmark configures it, with the oneDNN state it really got."""

    def __init__(self, name: str, program: Path, threads: int, onednn: bool):
        from npu_overlay.bench.predictors import TimedPredictor, config_for

        self.name, self.program = name, program
        self.onednn = config_for(program, threads, onednn).mkldnn_enabled()
        self.predictor = TimedPredictor(program, threads, onednn)

    def run(self, batch):
        return self.predictor.run(batch)


def measure(runners: list[Runner], batches: dict[str, np.ndarray], repeats: int, warmup: int):
    outputs = {r.name: {} for r in runners}
    seconds = {r.name: {image: [] for image in batches} for r in runners}
    for runner in runners:
        for image, batch in batches.items():
            for _ in range(warmup):
                outputs[runner.name][image] = runner.run(batch).outputs
    for round_ in range(repeats):
        for i, (image, batch) in enumerate(batches.items()):
            shift = (round_ * len(batches) + i) % len(runners)
            for runner in runners[shift:] + runners[:shift]:
                seconds[runner.name][image].append(runner.run(batch).seconds)
    return outputs, seconds


def agreement(outputs: dict, scales: dict[str, float], reference: str, table: str) -> dict:
    from npu_overlay.bench.measure import compare, decode_outputs

    rows = {}
    for image, scale in scales.items():
        c = compare(decode_outputs(outputs[table][image]), decode_outputs(outputs[reference][image]))
        rows[image] = {"tokens_equal": c["tokens_equal"], "max_box_px": c["max_abs_diff_loc"] * scale}
    return rows


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m["name"] for m in result["models"]]
    values = [result["median_ms"][n] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    ax.barh(names, values, color=["grey" if "reference" in n else "tab:blue" for n in names])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.0f} ms", va="center", fontsize=8)
    env = result["environment"]
    ax.set_xlabel("ms per table (median over images of the per-image median)")
    ax.set_title(f"oneDNN off / on, Paddle {env['paddle']}, {env['threads']} thread(s)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(headers: list[str], rows: list[list]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def markdown(result: dict) -> str:
    env = result["environment"]
    models = _table(["model", "program", "oneDNN", "median ms"],
                    [[m["name"], m["program"], m["onednn"], f"{result['median_ms'][m['name']]:.1f}"]
                     for m in result["models"]])
    ratios = _table(["part", "oneDNN speed-up (off ms / on ms)"],
                    [[k, f"{v:.2f}×"] for k, v in result["speedup_with_onednn"].items()])
    rows = []
    for image in result["images"]:
        row = [image]
        for name in ("table oneDNN off", "table oneDNN on"):
            a = result["agreement"][name][image]
            row += [a["tokens_equal"], f"{a['max_box_px']:.3f}"]
        row.append(f"{result['features_max_abs_diff'][image]:.2e}")
        rows.append(row)
    table = _table(["image", "same tokens (off)", "max box px (off)", "same tokens (on)",
                    "max box px (on)", "features max abs(on - off)"], rows)
    return (f"# oneDNN off and on\n\nCommand: `{result['command']}`; Paddle {env['paddle']}, "
            f"{env['threads']} thread(s), {env['repeats']} rounds, CPU: {env['cpu']}.\n\n{models}\n\n{ratios}\n\n"
            f"Agreement with the reference (released SLANet_plus, oneDNN off), boxes in image pixels:\n\n{table}\n")


def run(args) -> int:
    from npu_overlay.bench.report import environment
    from npu_overlay.model_cache import model_dir
    from npu_overlay.table_input import preprocess, read_image

    if args.tree:
        args.table, args.features = export(args.tree, args.work)
    elif not (args.table and args.features):
        raise ToolError("give --tree, or both --table and --features")
    table, features = _program(args.table), _program(args.features)
    reference = _program(args.reference or model_dir("slanet_plus"))
    images = sorted(args.images.glob("*.png"))[: args.count]
    if not images:
        raise ToolError(f"no .png images in {args.images}")
    batches, scales = {}, {}
    for path in images:
        image = read_image(path)
        batches[path.name], scales[path.name] = preprocess(image)[0], float(max(image.shape[:2]))
    env = environment(args.threads, args.repeats, args.warmup, {"configure_for_program": "patch 0002"})
    runners = [Runner("reference (released, oneDNN off)", reference, args.threads, False),
               Runner("table oneDNN off", table, args.threads, False),
               Runner("table oneDNN on", table, args.threads, True),
               Runner("features oneDNN off", features, args.threads, False),
               Runner("features oneDNN on", features, args.threads, True)]
    outputs, seconds = measure(runners, batches, args.repeats, args.warmup)
    median_ms = {name: 1000 * statistics.median(statistics.median(s) for s in per_image.values())
                 for name, per_image in seconds.items()}
    ref = runners[0].name
    result = {
        "command": "python -m npu_overlay.amp.onednn_check " + " ".join(args.argv),
        "environment": env, "images": list(batches),
        "models": [{"name": r.name, "program": f"{r.program.parent.name}/{r.program.name}", "onednn": r.onednn}
                   for r in runners],
        "median_ms": median_ms,
        "per_image_median_ms": {n: {i: 1000 * statistics.median(s) for i, s in p.items()} for n, p in seconds.items()},
        "speedup_with_onednn": {
            "table (end to end)": median_ms["table oneDNN off"] / median_ms["table oneDNN on"],
            "backbone + neck": median_ms["features oneDNN off"] / median_ms["features oneDNN on"]},
        "agreement": {name: agreement(outputs, scales, ref, name) for name in ("table oneDNN off", "table oneDNN on")},
        "features_max_abs_diff": {i: float(np.abs(outputs["features oneDNN on"][i][0]
                                                  - outputs["features oneDNN off"][i][0]).max()) for i in batches},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "onednn.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (args.out / "onednn.md").write_text(markdown(result), encoding="utf-8")
    plot(result, args.out / "onednn.png")
    print(markdown(result))
    bad = [i for i, a in result["agreement"]["table oneDNN on"].items()
           if not a["tokens_equal"] or a["max_box_px"] > args.max_px]
    if bad:
        print(f"oneDNN on differs from the reference on {len(bad)} table(s): {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onednn_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="export both models from this tree (python apply.py builds one)")
    parser.add_argument("--work", type=Path, default=Path("runs/onednn"), help="where --tree's exports go")
    parser.add_argument("--table", type=Path, help="table export directory")
    parser.add_argument("--features", type=Path, help="backbone + neck export directory")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, help="reference model directory (default: released SLANet_plus)")
    parser.add_argument("--images", type=Path, default=SAMPLES)
    parser.add_argument("--count", type=int, default=None, help="first N images only")
    parser.add_argument("--repeats", type=positive, default=5)
    parser.add_argument("--warmup", type=positive, default=1)
    parser.add_argument("--threads", type=positive, default=1)
    parser.add_argument("--max-px", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return run_command("onednn_check", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
