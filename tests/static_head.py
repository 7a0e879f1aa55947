"""Test helper: the decoder of overlay patch 0001 exported on its own, as a Paddle inference model.

The head's graph with the real SLANet_plus head weights, fed the flattened features
[1, 256, 96] that a 488x488 input gives. A `fixed` export unrolls 501 steps and takes about
half a minute: tests share one through the session fixture ``fixed_head_export`` (conftest).
"""

from __future__ import annotations

from test_static_decode_parity import load_static_decoder
from tools.convert_weights import head_params

FEATURES = [1, 256, 96]  # 488 / 32 = 16 x 16 positions, 96 channels (CSPPAN)


def export_head(slanet_plus_dir, out, mode, interval, max_text_length=500):
    """``max_text_length`` below 500 gives a shorter unrolled decode (tables of fewer steps only)."""
    import paddle

    (out / "src").mkdir()
    decoder = load_static_decoder(out / "src")
    weights = head_params(slanet_plus_dir, "SLANet_ch")

    class HeadGraph(paddle.nn.Layer):
        """The decoder as a layer: real weights as parameters under their upstream names."""

        def __init__(self):
            super().__init__()
            self.names = {}
            for name, value in weights.items():
                attr = name.replace(".", "__")
                self.names[name] = attr
                setattr(self, attr, self.create_parameter(list(value.shape), default_initializer=paddle.nn.initializer.Assign(value)))

        def forward(self, fea):
            params = {name: getattr(self, attr) for name, attr in self.names.items()}
            return decoder.sla_head_infer(params, fea, max_text_length, 49, mode, interval)

    layer = HeadGraph()
    layer.eval()
    spec = [paddle.static.InputSpec(FEATURES, "float32")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(out / "inference"))
    return out
