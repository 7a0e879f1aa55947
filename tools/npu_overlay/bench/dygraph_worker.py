"""Upstream's table model in dygraph (eager) mode, as training code and the original NPU report's
first remedy run it: a worker that the benchmark times side by side with the exported models.

Runs against an upstream tree (``npu_overlay.bench.predictors.DygraphPredictor`` starts it with
``npu_overlay.pipeline.tree``'s environment):

    cd TREE && python -m npu_overlay.bench.dygraph_worker CONFIG WEIGHTS_PREFIX

The model is upstream's own (``build_model`` on the config's Architecture, the Head's classes
counted by upstream's ``TableLabelDecode`` as ``export_model.py`` counts them), with the same
weights as the exports. Protocol on stdin/stdout: a request is one batch as ``.npy`` bytes, a
reply the outputs (``loc_preds``, ``structure_probs``) and the seconds the call took (tensor in,
forward, arrays out) as ``.npz`` bytes, each message preceded by its length (8 bytes, little
endian). End of input ends the worker.
"""

import io
import os
import sys
import time

# the protocol owns stdout, taken before any import can print to it; upstream's logger and
# prints go to stderr
REPLIES = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from npu_overlay.bench.features_export import load_weights  # noqa: E402
from npu_overlay.bench.predictors import MESSAGE_LENGTH as LENGTH  # noqa: E402
from ppocr.modeling.architectures import build_model  # noqa: E402
from ppocr.postprocess import build_post_process  # noqa: E402
from tools.program import load_config  # noqa: E402


def build(config_path, weights):
    config = load_config(config_path)
    post_process = build_post_process(config["PostProcess"], config["Global"])
    arch = config["Architecture"]
    arch["Head"]["out_channels"] = len(post_process.character)
    arch["Backbone"]["pretrained"] = False  # the weights come from WEIGHTS_PREFIX
    model = build_model(arch)
    load_weights(model, weights)
    return model


def read_message(stream):
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    return stream.read(LENGTH.unpack(head)[0])


def serve(model, requests, replies):
    while (message := read_message(requests)) is not None:
        batch = np.load(io.BytesIO(message))
        start = time.perf_counter()
        with paddle.no_grad():
            out = model(paddle.to_tensor(batch))
        arrays = {k: out[k].numpy() for k in ("loc_preds", "structure_probs")}
        arrays["seconds"] = np.array(time.perf_counter() - start)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        replies.write(LENGTH.pack(len(buffer.getvalue())) + buffer.getvalue())
        replies.flush()


def main(config_path, weights):
    model = build(config_path, weights)
    serve(model, sys.stdin.buffer, REPLIES)


if __name__ == "__main__":
    main(*sys.argv[1:3])
