"""Export SLANet's backbone + neck without the head, for the benchmark's backbone time.

Runs against an upstream tree (``npu_overlay.pipeline.tree.run_module_in_tree``; paddle.jit
reads the forward's source from this file):

    cd TREE && PYTHONPATH=. python -m npu_overlay.bench.features_export CONFIG WEIGHTS_PREFIX OUT_PREFIX H W

The model is built from the config's Architecture with the Head removed (upstream's
BaseModel then returns the neck's output), loads the same weights as the full exports, and
is saved with a static [1, 3, H, W] input; its output is the feature map the head reads
(the neck's last level, [1, C, H/32, W/32]). Paddle's default program format is kept, so
with Paddle 3 it is the PIR format of the overlay's exports.
"""

import sys

import paddle

from ppocr.modeling.architectures import build_model
from tools.program import load_config


class Features(paddle.nn.Layer):
    """Backbone + neck: the neck's last level is what the head would be given."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[-1]


def load_weights(model, weights):
    """Every tensor of ``model`` from ``WEIGHTS.pdparams``; exits naming the first one missing."""
    params = paddle.load(weights + ".pdparams")
    state = model.state_dict()
    missing = sorted(k for k in state if k not in params)
    if missing:
        sys.exit("error: {} of the model's {} tensors are not in {}.pdparams, e.g. {}".format(
            len(missing), len(state), weights, missing[0]))
    model.set_state_dict({k: params[k] for k in state})
    model.eval()
    return len(state)


def main(config_path, weights, out_prefix, height, width):
    arch = load_config(config_path)["Architecture"]
    arch.pop("Head")
    arch["Backbone"]["pretrained"] = False  # the weights come from WEIGHTS_PREFIX
    model = build_model(arch)
    tensors = load_weights(model, weights)
    layer = Features(model)
    layer.eval()
    spec = [paddle.static.InputSpec([1, 3, int(height), int(width)], "float32", "x")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec), out_prefix)
    print("features model saved to {} ({} tensors)".format(out_prefix, tensors))


if __name__ == "__main__":
    main(*sys.argv[1:6])
