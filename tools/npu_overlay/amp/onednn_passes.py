"""Which part of Paddle 3.0's oneDNN path moves SLANet's boxes: a bisection over its PIR passes.

    python -m npu_overlay.amp.onednn_passes EXPORT_DIR [--image tests/data/tables/large_22x9.png]

EXPORT_DIR holds a table export (``inference.json`` for the PIR path, or ``inference.pdmodel``).
The image is decoded without oneDNN (reference), with oneDNN, and with oneDNN minus one pass at a
time; each line gives the largest cell-box deviation from the reference in image pixels. Prints a
markdown table (docs/onednn-bug.md holds one run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npu_overlay.bench.measure import compare, decode_outputs
from npu_overlay.table_input import preprocess, read_image

# the PIR passes Paddle 3.0 runs with oneDNN on the CPU (its log, "Running PIR pass [...]")
ONEDNN_PIR_PASSES = (
    "depthwise_conv_onednn_pass squeeze_transpose_onednn_fuse_pass conv2d_bn_onednn_fuse_pass "
    "conv2d_bias_bn_onednn_fuse_pass conv2d_bias_fuse_pass conv_elementwise_add_onednn_fuse_pass "
    "conv_activation_mkldnn_fuse_pass conv_concat_activation_mkldnn_fuse_pass matmul_scale_fuse_pass "
    "scale_matmul_fuse_pass reshape_transpose_matmul_fuse_pass matmul_transpose_reshape_fuse_pass "
    "matmul_add_act_fuse_pass matmul_reshape_add_fuse_pass fc_onednn_enable_pass matmul_elementwise_add_fuse_pass "
    "matmul_activation_fuse_pass fc_activation_fuse_pass self_attention_fuse_pass batch_norm_act_fuse_pass "
    "softplus_activation_fuse_pass shuffle_channel_detect_pass elementwise_act_onednn_fuse_pass "
    "operator_scale_onednn_fuse_pass operator_unsqueeze_onednn_fuse_pass operator_reshape_onednn_fuse_pass "
    "onednn_placement_pass"
).split()


def program(export: Path) -> Path:
    for name in ("inference.json", "inference.pdmodel"):
        if (export / name).is_file():
            return export / name
    raise FileNotFoundError(f"{export} holds no inference.json / inference.pdmodel")


def decode(prog: Path, batch, onednn: bool, deleted: tuple[str, ...] = ()):
    from paddle import inference

    config = inference.Config(str(prog), str(prog.with_suffix(".pdiparams")))
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(1)
    if onednn:
        config.enable_mkldnn()
    else:
        config.disable_mkldnn()
    config.disable_glog_info()
    for name in deleted:
        config.delete_pass(name)
    config.switch_ir_optim(True)
    predictor = inference.create_predictor(config)
    predictor.get_input_handle(predictor.get_input_names()[0]).copy_from_cpu(batch)
    predictor.run()
    return decode_outputs([predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--image", default="tests/data/tables/large_22x9.png")
    args = parser.parse_args(argv)
    try:
        prog = program(args.export)
        image = read_image(args.image)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    batch, scale = preprocess(image)[0], float(max(image.shape[:2]))
    reference = decode(prog, batch, onednn=False)
    print(f"{prog.name}, {Path(args.image).name}: reference without oneDNN\n")
    print("| oneDNN run | same tokens | max box deviation px |\n| --- | --- | --- |")
    for deleted in [()] + [(name,) for name in ONEDNN_PIR_PASSES]:
        c = compare(decode(prog, batch, True, deleted), reference)
        label = "all passes" if not deleted else f"without {deleted[0]}"
        print(f"| {label} | {c['tokens_equal']} | {c['max_abs_diff_loc'] * scale:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
