"""Regression of the patched tree (on the chosen device) against pristine upstream (on the CPU).

    python -m npu_overlay.pipeline.regress --tree build/PaddleOCR --device npu --images DIR --out runs/regress
    python -m npu_overlay.pipeline.regress ... --reference upstream_records.json   # reuse recorded upstream outputs

Writes OUT/reference/records.json (unless --reference), OUT/candidate/records.json,
OUT/comparison.json and OUT/report.md. Exit status: 0 no regression, 1 regression(s), 2 bad
input or an unusable device (checked before anything runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from npu_overlay.cli import run_command
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.compare import compare_records, teds_scores
from npu_overlay.pipeline.pristine import pristine_tree
from npu_overlay.pipeline.report import render
from npu_overlay.pipeline.run import run_pipeline
from npu_overlay.pipeline.settings import add_run_arguments, settings_from_args
from npu_overlay.pipeline.tree import check_tree


def load_records(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"cannot read reference records {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
        raise PipelineError(f"{path} is not a records.json written by npu_overlay.pipeline")
    return data


def regress(args) -> int:
    out = Path(args.out).resolve()
    if (out / "report.md").exists() and not args.overwrite:
        raise PipelineError(f"{out / 'report.md'} exists; pass --overwrite to replace it, or choose another --out")
    candidate_settings = settings_from_args(args, args.tree, out / "candidate")  # fails fast, before the reference
    tree = candidate_settings.tree
    if args.reference:
        reference = load_records(args.reference)
    else:
        upstream = check_tree(args.pristine_tree) if args.pristine_tree and Path(args.pristine_tree).is_dir() \
            else pristine_tree(args.pristine_tree or "build/PaddleOCR-pristine")
        reference = run_pipeline(settings_from_args(args, upstream, out / "reference", device="cpu", candidate=False))
    candidate = run_pipeline(candidate_settings)
    scores = teds_scores(tree, reference, candidate, out)
    comparison = compare_records(reference, candidate, scores, args.box_tol, args.teds_min, args.max_latency_ratio)
    (out / "comparison.json").write_text(json.dumps(comparison.to_json(), indent=1), encoding="utf-8")
    (out / "report.md").write_text(render(comparison, reference, candidate), encoding="utf-8")
    print(out / "report.md")
    for line in comparison.regressions:
        print(f"regression: {line}", file=sys.stderr)
    return 1 if comparison.regressions or not comparison.images else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="build/PaddleOCR", help="patched tree (default build/PaddleOCR)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--reference", help="upstream records.json recorded earlier (skips the upstream run)")
    parser.add_argument("--pristine-tree", help="pristine upstream tree; built from PADDLEOCR_UPSTREAM "
                                                "into this path (default build/PaddleOCR-pristine) if absent")
    parser.add_argument("--box-tol", type=float, default=1.0, help="cell box tolerance in px (default 1.0)")
    parser.add_argument("--teds-min", type=float, default=0.999, help="minimum HTML TEDS (default 0.999)")
    parser.add_argument("--max-latency-ratio", type=float, help="fail when candidate/reference table time exceeds it")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    return run_command("pipeline.regress", lambda: regress(args))


if __name__ == "__main__":
    sys.exit(main())
