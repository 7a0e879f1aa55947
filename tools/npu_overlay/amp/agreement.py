"""Agreement of reduced precision with fp32 for the SLANet_plus table model, measured on this CPU.

    python -m npu_overlay.amp.agreement --out docs/amp --rendered 100 --seed 11

Every table is decoded by the released fp32 model (Paddle Inference, oneDNN off: upstream's
default) and by each reduced-precision variant; per variant the report counts tables with
identical structure tokens, TEDS-struct against the fp32 structure (upstream's TEDS from
``--tree``), and the largest cell-box deviation in image pixels. Methods, named per row:

* ``onednn``: computed for real by Paddle Inference on the CPU (oneDNN; bf16 only where the
  CPU has avx512_bf16), with ``set_bfloat16_op`` holding the black list back;
* ``emulated``: ``npu_overlay.amp.emulate`` (real casts through float16 / bfloat16 at every AMP
  boundary of the program, weights rounded), for what this CPU has no kernels for.

The ablation puts one black-list entry at a time into reduced precision (emulated fp16) on
the first ``--ablation-count`` tables. Writes OUT/agreement.json and docs/amp.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from npu_overlay import REPO_ROOT
from npu_overlay.bench.measure import decode_outputs
from npu_overlay.pipeline.compare import run_teds
from npu_overlay.pipeline.device import load_tree_device_module
from npu_overlay.pipeline.tree import PRECISION_PATCH
from npu_overlay.bench.predictors import TimedPredictor
from npu_overlay.table_input import preprocess, read_image

SAMPLES = REPO_ROOT / "tests" / "data" / "tables"
DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"
CELL_TOKENS = ("<td>", "<td", "<td></td>")


def structure_vocabulary(tree: Path) -> list[str]:
    """Upstream's TableLabelDecode vocabulary: sos, the dict (with <td> merged), eos."""
    words = [w.strip("\n") for w in (tree / DICT).read_text(encoding="utf-8").splitlines()]
    if "<td>" in words:
        words.append("<td></td>")
        words.remove("<td>")
    return ["sos", *words, "eos"]


class Predictor(TimedPredictor):
    """The fp32 model in Paddle Inference on the CPU, oneDNN and bf16 as asked; ``run`` gives the
    outputs (the emulated models' interface), timing is the caller's."""

    def __init__(self, program: Path, onednn: bool, bf16_ops: set[str] | None = None, threads: int = 1):
        super().__init__(program, threads, onednn, bf16_ops)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return super().run(batch).outputs


def table_images(rendered: int, seed: int, work: Path) -> dict[str, Path]:
    from npu_overlay.render_tables import main as render

    images = {f"sample/{p.stem}": p for p in sorted(SAMPLES.glob("*.png"))}
    if rendered:
        out = work / "rendered"
        with contextlib.redirect_stdout(sys.stderr):  # it lists what it wrote
            status = render(["--out", str(out), "--count", str(rendered), "--seed", str(seed)])
        if status != 0:
            raise RuntimeError("rendering the tables failed")
        images.update({f"rendered/{p.stem}": p for p in sorted(out.glob("*.png"))})
    return images


def compare_table(decoded, reference, vocab: list[str], scale: float) -> dict:
    same = decoded.sequence_steps == reference.sequence_steps and np.array_equal(decoded.tokens, reference.tokens)
    row = {"tokens_equal": bool(same)}
    if same:  # boxes are comparable cell by cell only when the cells are the same
        cells = [i for i, t in enumerate(reference.tokens) if vocab[int(t)] in CELL_TOKENS]
        dev = np.abs(decoded.loc[cells] - reference.loc[cells]).max() if cells else 0.0
        row["max_box_dev_px"] = float(dev * scale)
    return row


def html(tokens, vocab: list[str]) -> str:
    body = "".join(vocab[int(t)] for t in tokens[1:-1])  # without sos / eos
    return f"<html><body><table>{body}</table></body></html>"


def teds_struct(tree: Path, pairs: list[tuple[str, str]]) -> list[float]:
    """Upstream's TEDS-struct of each (candidate, reference) pair, run against the tree."""
    with tempfile.TemporaryDirectory() as tmp:
        scores = run_teds(tree, {str(i): [ref, cand] for i, (cand, ref) in enumerate(pairs)}, Path(tmp),
                          structure_only=True)
    return [scores[str(i)] for i in range(len(pairs))]


def summarise(name: str, method: str, rows: dict[str, dict], seconds: list[float], teds: list[float] | None) -> dict:
    devs = [r["max_box_dev_px"] for r in rows.values() if "max_box_dev_px" in r]
    return {
        "variant": name,
        "method": method,
        "tables": len(rows),
        "identical_tokens": sum(r["tokens_equal"] for r in rows.values()),
        "teds_struct_mean": statistics.fmean(teds) if teds else None,
        "teds_struct_min": min(teds) if teds else None,
        "max_box_dev_px": max(devs) if devs else None,
        "median_box_dev_px": statistics.median(devs) if devs else None,
        "mean_ms_per_table": 1000.0 * statistics.fmean(seconds) if seconds else None,
        "per_table": rows,
    }


def measure(args, log=print) -> dict:
    from npu_overlay.amp.emulate import EmulatedModel

    program = Path(args.model) / "inference.pdmodel"
    vocab = structure_vocabulary(Path(args.tree))
    with tempfile.TemporaryDirectory() as work:
        images = table_images(args.rendered, args.seed, Path(work))
        batches = {}
        for name, path in images.items():
            image = read_image(path)
            batches[name] = (preprocess(image)[0], float(max(image.shape[:2])))
    ablation_names = list(batches)[: args.ablation_count]
    precision = load_tree_device_module(Path(args.tree), PRECISION_PATCH)  # the patch's own lists
    black = set(precision.DEFAULT_BLACK_LIST)
    variants = [("fp32 (oneDNN)", "onednn", lambda: Predictor(program, onednn=True), list(batches))]
    bf16_cpu = precision.cpu_has_bf16()  # the check the predictors themselves run
    if bf16_cpu:
        variants += [
            (
                "bf16, black list fp32",
                "onednn",
                lambda: Predictor(program, True, set(precision.CPU_BF16_OPS) - black),
                list(batches),
            ),
            # does oneDNN reach the decode loop? (ops that exist only inside the while block)
            (
                "bf16, decode-loop ops only (matmul_v2, softmax, tanh, sigmoid)",
                "onednn",
                lambda: Predictor(program, True, {"matmul_v2", "fused_matmul", "softmax", "tanh", "sigmoid"}),
                ablation_names,
            ),
        ]
    prefix = str(Path(args.model) / "inference")
    variants += [
        (
            "fp32 (emulation harness: every cast inserted, through float32)",
            "emulated",
            lambda: EmulatedModel(prefix, "fp32", black),
            ablation_names,
        ),
        # what oneDNN's bf16 converts (the backbone + neck), emulated: checks the emulation against a real run
        (
            "bf16, backbone + neck only",
            "emulated",
            lambda: EmulatedModel(prefix, "bf16", black, blocks={0}),
            list(batches),
        ),
        (
            "fp16, backbone + neck only",
            "emulated",
            lambda: EmulatedModel(prefix, "fp16", black, blocks={0}),
            ablation_names,
        ),
        (
            "fp16, decode loop only",
            "emulated",
            lambda: EmulatedModel(prefix, "fp16", black, blocks={1, 2}),
            ablation_names,
        ),
        ("fp16, black list fp32", "emulated", lambda: EmulatedModel(prefix, "fp16", black), list(batches)),
        ("bf16, black list fp32", "emulated", lambda: EmulatedModel(prefix, "bf16", black), list(batches)),
    ]
    for op in precision.DEFAULT_BLACK_LIST:
        variants.append(
            (
                f"fp16, {op} also fp16",
                "emulated",
                lambda op=op: EmulatedModel(prefix, "fp16", black - {op}),
                ablation_names,
            )
        )
    variants.append(
        ("fp16, nothing kept fp32", "emulated", lambda: EmulatedModel(prefix, "fp16", set()), ablation_names)
    )

    log(f"fp32 reference on {len(batches)} tables")
    reference_model = Predictor(program, onednn=False)
    reference, ref_seconds = {}, []
    for name, (batch, _) in batches.items():
        start = time.perf_counter()
        reference[name] = decode_outputs(reference_model.run(batch))
        ref_seconds.append(time.perf_counter() - start)
    results = [summarise("fp32", "reference", {n: {"tokens_equal": True} for n in batches}, ref_seconds, None)]
    for label, method, build, names in variants:
        log(f"{label} [{method}] on {len(names)} tables")
        model = build()
        rows, seconds, pairs = {}, [], []
        for name in names:
            batch, scale = batches[name]
            start = time.perf_counter()
            decoded = decode_outputs(model.run(batch))
            seconds.append(time.perf_counter() - start)
            rows[name] = compare_table(decoded, reference[name], vocab, scale)
            pairs.append((html(decoded.tokens, vocab), html(reference[name].tokens, vocab)))
        teds = teds_struct(Path(args.tree), pairs) if args.teds else None
        for (name, row), score in zip(rows.items(), teds or []):
            row["teds_struct"] = score
        results.append(summarise(label, method, rows, seconds if method == "onednn" else [], teds))
    return {
        "model": "SLANet_plus (released inference model, fp32)",
        "black_list": sorted(black),
        "cpu_avx512_bf16": bf16_cpu,
        "tables": {
            "samples": sum(n.startswith("sample/") for n in batches),
            "rendered": sum(n.startswith("rendered/") for n in batches),
            "seed": args.seed,
        },
        "ablation_tables": len(ablation_names),
        "threads": 1,
        "command": "python -m npu_overlay.amp.agreement " + " ".join(args.argv),
        "variants": results,
    }


def fmt(value, digits=2):
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    lines = [
        "# Mixed precision: agreement with fp32",
        "",
        f"Model: {report['model']}. Tables: {report['tables']['samples']} samples (tests/data/tables) + "
        f"{report['tables']['rendered']} rendered (seed {report['tables']['seed']}); the ablation rows use the "
        f"first {report['ablation_tables']}. Black list kept in fp32: {', '.join(report['black_list'])}. "
        f"CPU with avx512_bf16: {report['cpu_avx512_bf16']}. One thread.",
        "",
        "Regenerate (a few minutes on two cores):",
        "",
        "```bash",
        report["command"],
        "```",
        "",
        "Method `onednn`: computed for real by Paddle Inference on this CPU; `emulated`: the fp32 program with a",
        "real cast through the reduced dtype at every AMP boundary and rounded weights (`tools/npu_overlay/amp/emulate.py`),",
        "because this CPU has no fp16 kernels. Reference: fp32 without oneDNN (upstream's default). Box deviation:",
        "largest difference of a cell's box coordinate in pixels of the original image, over tables whose tokens",
        "are identical. ms/table only for real runs (one thread, this machine, measured in the same run).",
        "",
        "| variant | method | tables | identical tokens | TEDS-struct mean / min | max box dev px | median box dev px | ms/table |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in report["variants"]:
        teds = "–" if v["teds_struct_mean"] is None else f"{v['teds_struct_mean']:.4f} / {v['teds_struct_min']:.4f}"
        lines.append(
            f"| {v['variant']} | {v['method']} | {v['tables']} | {v['identical_tokens']} | {teds} | "
            f"{fmt(v['max_box_dev_px'])} | {fmt(v['median_box_dev_px'])} | {fmt(v['mean_ms_per_table'], 0)} |"
        )
    lines += ["", "## Reading the table", ""] + findings(report)
    return "\n".join(lines) + "\n"


def findings(report: dict) -> list[str]:
    """Sentences computed from the rows above, so they stay true when the report is regenerated."""
    rows = {v["variant"]: v for v in report["variants"]}
    out = []

    def share(v):
        return f"{v['identical_tokens']}/{v['tables']}"

    probe = rows.get("bf16, decode-loop ops only (matmul_v2, softmax, tanh, sigmoid)")
    real = next(
        (v for v in report["variants"] if v["variant"] == "bf16, black list fp32" and v["method"] == "onednn"), None
    )
    if probe is not None:
        # against fp32 through oneDNN: oneDNN's fp32 kernels alone move boxes by a few thousandths of a px
        floor = (rows.get("fp32 (oneDNN)") or {}).get("max_box_dev_px") or 0.0
        reached = probe["identical_tokens"] < probe["tables"] or (probe["max_box_dev_px"] or 0) > floor + 0.01
        out.append(
            "- oneDNN's bf16 passes "
            + ("do" if reached else "do **not**")
            + " reach the decode loop: with only the loop's ops allowed in bf16 the output "
            + (
                "changes."
                if reached
                else "moves no more than fp32 through oneDNN does. Real CPU bf16 therefore covers the backbone + neck only."
            )
        )
    bf16_backbone = [v for v in report["variants"] if v["variant"] == "bf16, backbone + neck only"]
    if real is not None and bf16_backbone:
        emu = bf16_backbone[0]
        out.append(
            f"- Real bf16 (oneDNN): {share(real)} tables with identical tokens, boxes within "
            f"{fmt(real['max_box_dev_px'])} px (median {fmt(real['median_box_dev_px'])}). The emulation of the "
            f"same scope (backbone + neck in bf16): {share(emu)}, within {fmt(emu['max_box_dev_px'])} px (median "
            f"{fmt(emu['median_box_dev_px'])}): the check of the emulation against a real run."
        )
    for label in ("fp16, black list fp32", "bf16, black list fp32"):
        v = next((v for v in report["variants"] if v["variant"] == label and v["method"] == "emulated"), None)
        if v:
            out.append(
                f"- {label.split(',')[0]} everywhere (emulated, black list fp32): {share(v)} identical tokens, "
                f"TEDS-struct mean {fmt(v['teds_struct_mean'], 4)} (min {fmt(v['teds_struct_min'], 4)}), boxes "
                f"within {fmt(v['max_box_dev_px'])} px where the tokens agree."
            )
    parts = [rows.get("fp16, backbone + neck only"), rows.get("fp16, decode loop only")]
    if all(parts):
        out.append(
            f"- Where fp16 hurts (first {parts[0]['tables']} tables): backbone + neck only {share(parts[0])} identical, "
            f"max {fmt(parts[0]['max_box_dev_px'])} px; decode loop only {share(parts[1])}, max "
            f"{fmt(parts[1]['max_box_dev_px'])} px."
        )
    ablation = [v for v in report["variants"] if v["variant"].endswith("also fp16") or "nothing kept" in v["variant"]]
    if ablation:
        cells = ", ".join(f"{v['variant'].split(', ')[1]}: {share(v)}" for v in ablation)
        out.append(
            f"- Ablation (fp16 emulated, first {ablation[0]['tables']} tables, identical tokens): {cells}. "
            "An op between two fp16 ops receives rounded inputs and its output is rounded by the next op either "
            "way, so keeping it fp32 only saves the rounding inside it (real fp16 kernels already accumulate in "
            "fp32); the emulation computes inside every op in fp32, so it measures the boundaries, not that."
        )
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for agreement.json")
    parser.add_argument("--markdown", type=Path, default=Path("docs/amp.md"), help="report (default docs/amp.md)")
    parser.add_argument("--model", help="fp32 SLANet inference model dir (default: cached SLANet_plus)")
    parser.add_argument("--tree", default="build/PaddleOCR", help="upstream tree: dictionary and TEDS")
    parser.add_argument("--rendered", type=int, default=100, help="rendered tables besides the 7 samples")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--ablation-count", type=int, default=20, help="tables the ablation rows run on")
    parser.add_argument("--no-teds", dest="teds", action="store_false", help="skip TEDS-struct")
    parser.add_argument("--from-json", type=Path, help="only re-render the markdown from an agreement.json")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.from_json:
        args.markdown.write_text(markdown(json.loads(args.from_json.read_text(encoding="utf-8"))), encoding="utf-8")
        print(args.markdown)
        return 0
    if not (Path(args.tree) / PRECISION_PATCH).is_file():
        print(
            f"error: {args.tree} has no {PRECISION_PATCH} (patch 0005); run python apply.py or pass --tree",
            file=sys.stderr,
        )
        return 2
    if args.model is None:
        from npu_overlay.model_cache import model_dir

        args.model = str(model_dir("slanet_plus"))
    if not (Path(args.model) / "inference.pdmodel").is_file():
        print(f"error: {args.model} has no inference.pdmodel", file=sys.stderr)
        return 2
    report = measure(args, log=lambda m: print(m, file=sys.stderr))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agreement.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    args.markdown.write_text(markdown(report), encoding="utf-8")
    print(args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
