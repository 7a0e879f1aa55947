"""Export the two small models the npu_check tests read, in the format Paddle is set to write.

    python tests/npu_check_models.py OUT_DIR     # PIR inference.json (Paddle 3 default)
    FLAGS_enable_pir_api=0 python tests/npu_check_models.py OUT_DIR   # ProgramDesc .pdmodel

All run the same step (a linear layer) ten times: `decode_loop` the way upstream's table
head decodes (dynamic batch, a tensor-bounded loop, slice assignment into a preallocated
buffer, an early exit on a token), `decode_static` with a fixed input shape, the loop
unrolled at export and the steps stacked, and `counter_loop` a `while_loop` over a counter
from 0 to ten (static shapes, a trip count fixed by the counter).
"""

from __future__ import annotations

import sys
from pathlib import Path

import paddle

STEPS, WIDTH, EOS = 10, 8, 3


class DecodeLoop(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.step = paddle.nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        out = paddle.zeros([x.shape[0], STEPS, WIDTH])
        h = x
        for i in range(paddle.to_tensor(STEPS - 1) + 1):
            h = self.step(h)
            out[:, i, :] = h
            if (h.argmax(-1) == EOS).any():
                break
        return out


class DecodeStatic(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.step = paddle.nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        h, steps = x, []
        for _ in range(STEPS):  # a Python int bound: unrolled at export
            h = self.step(h)
            steps.append(h)
        return paddle.stack(steps, axis=1)


class CounterLoop(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.step = paddle.nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        count = paddle.zeros([1], dtype="int64")
        _, h = paddle.static.nn.while_loop(lambda i, h: i < STEPS, lambda i, h: [i + 1, self.step(h)], [count, x])
        return h


def export(layer: paddle.nn.Layer, shape: list, target: Path) -> None:
    layer.eval()
    spec = [paddle.static.InputSpec(shape, "float32", "x")]
    static = paddle.jit.to_static(layer, input_spec=spec, full_graph=True)
    paddle.jit.save(static, str(target / "inference"))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    paddle.seed(0)
    export(DecodeLoop(), [None, WIDTH], out / "decode_loop")
    export(DecodeStatic(), [1, WIDTH], out / "decode_static")
    export(CounterLoop(), [1, WIDTH], out / "counter_loop")
