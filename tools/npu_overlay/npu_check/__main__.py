"""Command line: exit 0 clean, 1 hazards found, 2 unreadable input."""

from __future__ import annotations

import argparse
import sys

from . import KernelListError, ModelReadError, check_model, default_kernel_list
from .report import render_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m npu_overlay.npu_check",
        description="Report the ops of an exported Paddle model (inference.json or inference.pdmodel) that an "
                    "NPU backend cannot run, dynamic-shape hazards, and host synchronisation points. An ONNX "
                    "model (.onnx) gets the shape and control-flow checks; its ops are listed, not looked up.",
    )
    parser.add_argument("model", help="export directory, or the .json / .pdmodel / .onnx file itself")
    parser.add_argument("--kernels", help=f"kernel list, one name a line (default: $NPU_KERNEL_LIST or "
                                          f"{default_kernel_list()})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--require-static", action="store_true",
                      help="treat any shape decided at run time as an error (Ascend graph mode, paddle-custom-npu)")
    gate.add_argument("--require-single-graph", action="store_true",
                      help="as --require-static, and any control flow is an error too (ATC, TensorRT)")
    args = parser.parse_args(argv)
    try:
        report = check_model(args.model, kernels=args.kernels, require_static=args.require_static,
                             require_single_graph=args.require_single_graph)
    except (ModelReadError, KernelListError) as exc:
        print(f"npu_check: error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else render_text(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
