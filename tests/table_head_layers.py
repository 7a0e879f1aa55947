"""Patch 0001's decoder for the offline tests, which have no upstream tree: the module as the
patch writes it, the layers of upstream's SLAHead it reads (filled with real weights), the head
exported on its own, and the tables decoded as TableLabelDecode reads them.

Patch 0001's decoder reads the weights through the head's own layers
(``head.structure_attention_cell.rnn.weight_ih``, ``head.loc_generator(...)``). Upstream builds
those layers from Paddle's ``nn.Linear``/``nn.GRUCell``/``nn.Sequential``; the same classes, in
the same arrangement and under the same state-dict names, hold the SLANet_plus weights here. The
`upstream`-marked tests run the decoder inside upstream's real SLAHead.
"""

from __future__ import annotations

import numpy as np
import paddle
from paddle import nn

from npu_overlay.engine.patch_files import extract, load_module
from npu_overlay.table_tokens import end_of_sequence, sequence_length


def load_static_decoder(dest):
    """The decoding module that patch 0001 adds to upstream's tree."""
    path = "ppocr/modeling/heads/table_static_decode.py"
    return load_module(extract(path, dest), "table_static_decode")


def decoded_tables(structure, loc, shapes):
    """What TableLabelDecode reads per batch element: the table's tokens (without the end) and
    their boxes in pixels of the image (``shapes``: the pre-processing's shape rows)."""
    out = []
    for probs, boxes, shape in zip(structure, loc, shapes):
        ids = probs.argmax(-1)
        n = sequence_length(ids, end_of_sequence(probs)) - 1
        scale = np.tile(shape[1::-1], boxes.shape[-1] // 2)  # x by width, y by height
        out.append((ids[:n], boxes[:n] * scale))
    return out


class AttentionGRUCellLayers(nn.Layer):
    """The parameters of upstream's AttentionGRUCell (ppocr/modeling/heads/rec_att_head.py)."""

    def __init__(self, input_size: int, hidden_size: int, num_embeddings: int):
        super().__init__()
        self.i2h = nn.Linear(input_size, hidden_size, bias_attr=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias_attr=False)
        self.rnn = nn.GRUCell(input_size + num_embeddings, hidden_size)
        self.hidden_size = hidden_size


class SLAHeadLayers(nn.Layer):
    """SLAHead's inference-time layers; ``forward`` is the head's inference on flattened features."""

    def __init__(self, decoder, weights: dict, strategy, max_text_length: int = 500):
        super().__init__()
        channels, hidden = weights["structure_attention_cell.i2h.weight"].shape
        classes = weights["structure_generator.1.weight"].shape[1]
        boxes = weights["loc_generator.1.weight"].shape[1]
        self.structure_attention_cell = AttentionGRUCellLayers(channels, hidden, classes)
        self.structure_generator = nn.Sequential(nn.Linear(hidden, hidden), nn.Linear(hidden, classes))
        self.loc_generator = nn.Sequential(nn.Linear(hidden, hidden), nn.Linear(hidden, boxes), nn.Sigmoid())
        missing, unexpected = self.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
        assert not missing and not unexpected, (missing, unexpected)
        self.max_text_length = max_text_length
        self.eos = classes - 1
        self.decode_strategy = strategy
        self.decoder = decoder
        self.eval()

    def forward(self, fea):
        return self.decoder.decode_sla_head(self, fea)


class TableAttentionHeadLayers(nn.Layer):
    """TableAttentionHead's (TableRec-RARE, configs/table/table_mv3.yml) inference-time layers,
    as upstream builds them for 488x488 inputs, with Paddle's default (random) initialisation;
    ``forward`` is the head's inference on flattened features [N, 256, channels]."""

    def __init__(self, decoder, strategy, channels: int, hidden: int = 256, classes: int = 30, loc: int = 4,
                 positions: int = 256, max_text_length: int = 500):
        super().__init__()
        self.structure_attention_cell = AttentionGRUCellLayers(channels, hidden, classes)
        self.structure_generator = nn.Linear(hidden, classes)
        self.loc_fea_trans = nn.Linear(positions, max_text_length + 1)
        self.loc_generator = nn.Linear(channels + hidden, loc)
        self.out_channels = classes
        self.max_text_length = max_text_length
        self.decode_strategy = strategy
        self.decoder = decoder
        self.eval()

    def forward(self, fea):
        return self.decoder.decode_table_attention_head(self, fea)


def random_sla_weights(channels: int, hidden: int, classes: int, loc: int, seed: int = 0) -> dict:
    """SLAHead's state dict (names and shapes as upstream's) filled with random values."""
    shapes = {
        "structure_attention_cell.i2h.weight": [channels, hidden],
        "structure_attention_cell.h2h.weight": [hidden, hidden],
        "structure_attention_cell.h2h.bias": [hidden],
        "structure_attention_cell.score.weight": [hidden, 1],
        "structure_attention_cell.rnn.weight_ih": [3 * hidden, channels + classes],
        "structure_attention_cell.rnn.weight_hh": [3 * hidden, hidden],
        "structure_attention_cell.rnn.bias_ih": [3 * hidden],
        "structure_attention_cell.rnn.bias_hh": [3 * hidden],
        "structure_generator.0.weight": [hidden, hidden],
        "structure_generator.0.bias": [hidden],
        "structure_generator.1.weight": [hidden, classes],
        "structure_generator.1.bias": [classes],
        "loc_generator.0.weight": [hidden, hidden],
        "loc_generator.0.bias": [hidden],
        "loc_generator.1.weight": [hidden, loc],
        "loc_generator.1.bias": [loc],
    }
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.1).astype("float32") for name, shape in shapes.items()}


FEATURES = [1, 256, 96]  # 488 / 32 = 16 x 16 positions, 96 channels (CSPPAN): what a 488x488 input gives


def export_head(slanet_plus_dir, out, mode, unroll, max_text_length=500):
    """Patch 0001's decoder with SLANet_plus's head weights exported on its own (input: the
    flattened features [1, 256, 96]) as a Paddle inference model in ``out``; a ``max_text_length``
    below 500 gives a shorter decode (tables of fewer steps only)."""
    from npu_overlay.convert_weights import head_params

    decoder = load_static_decoder(out)
    head = SLAHeadLayers(decoder, head_params(slanet_plus_dir, "SLANet_ch"), decoder.DecodeStrategy(mode, unroll),
                         max_text_length)
    spec = [paddle.static.InputSpec(FEATURES, "float32")]
    paddle.jit.save(paddle.jit.to_static(head, input_spec=spec, full_graph=True), str(out / "inference"))
    return out
