"""Run inside an upstream PaddleOCR tree: build a model from one of its configs and record,
for every structured state_dict key, the auto-generated name Paddle gave the tensor and its shape.

Exported inference models keep only those auto-generated names (``conv2d_12.w_0``), so this
record is what maps an export back onto upstream's structured keys. Paddle numbers names per
layer type in creation order, so the build happens in a fresh process and a fresh
``unique_name.guard()``, exactly as an export does it.

    cd <upstream tree> && PYTHONPATH=. python -m npu_overlay.upstream_param_names --config configs/table/SLANet_ch.yml --out names.json

Used by ``tools/npu_overlay/convert_weights.py --write-map``; not meant to be imported.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_upstream_model(config_path: str):
    import yaml
    from ppocr.modeling.architectures import build_model
    from ppocr.postprocess import build_post_process

    with open(config_path, "rb") as fh:
        config = yaml.safe_load(fh)
    arch = config["Architecture"]
    # the weights come from the export; never download ImageNet backbone weights
    arch.get("Backbone", {})["pretrained"] = False
    # export_model.py sizes the head's classifier from the label decoder's character list;
    # do the same, or the head gets its default class count
    post_process = build_post_process(config["PostProcess"], config["Global"])
    if hasattr(post_process, "character") and "Head" in arch:
        arch["Head"]["out_channels"] = len(post_process.character)
    return build_model(arch), arch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    import paddle

    with paddle.utils.unique_name.guard():
        model, arch = build_upstream_model(args.config)
    params = {key: {"name": tensor.name, "shape": list(tensor.shape)} for key, tensor in model.state_dict().items()}
    record = {"config": args.config, "architecture": arch, "params": params}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
