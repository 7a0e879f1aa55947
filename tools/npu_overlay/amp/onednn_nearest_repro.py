"""Minimal reproduction: Paddle 3.0's oneDNN nearest_interp reads other source rows than Paddle's CPU kernel.

    python -m npu_overlay.amp.onednn_nearest_repro                           # PIR program (Paddle 3 default)
    FLAGS_enable_pir_api=0 python -m npu_overlay.amp.onednn_nearest_repro    # ProgramDesc program

Standalone (paddle and numpy only). One layer, ``F.upsample(x, size, mode="nearest")``
(align_corners=False), is saved with ``paddle.jit.save`` and run by Paddle Inference on the
CPU with oneDNN off and on. The input holds its own row number, so the output shows which
source row every output row was read from. Three forms of the same resize:

* ``size 16->31``: a fixed output size, as a static-shape export of SLANet's CSPPAN writes it;
* ``size from a tensor``: the size read from another input's shape at run time
  (SizeTensor inputs), as a dynamic-shape export writes it;
* ``scale 2``: a whole scale factor.

Exit status 1 when oneDNN differs from the CPU kernel for some form (the bug is present).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import inference

IN, OUT = 16, 31  # CSPPAN's 16 -> 31 for a 488x488 input


class Resize(paddle.nn.Layer):
    def __init__(self, form: str):
        super().__init__()
        self.form = form
        # one parameter: Paddle Inference wants a .pdiparams file
        self.zero = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(0.0))

    def forward(self, x, like):
        x = x + self.zero
        if self.form == "scale 2":
            y = F.upsample(x, scale_factor=2, mode="nearest")[:, :, :OUT, :OUT]
        else:
            y = F.upsample(x, size=like.shape[2:4], mode="nearest")
        return y + like  # like is zeros; used so that it stays an input


def save(form: str, prefix: Path) -> Path:
    dynamic = form == "size from a tensor"
    hw = [None, None] if dynamic else [IN, IN]
    like_hw = [None, None] if dynamic else [OUT, OUT]
    layer = Resize(form)
    layer.eval()
    spec = [paddle.static.InputSpec([1, 1, *hw], "float32", "x"),
            paddle.static.InputSpec([1, 1, *like_hw], "float32", "like")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(prefix))
    return next(p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".pdmodel")) if p.is_file())


def run(program: Path, onednn: bool) -> np.ndarray:
    config = inference.Config(str(program), str(program.with_suffix(".pdiparams")))
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(1)
    config.enable_mkldnn() if onednn else config.disable_mkldnn()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    x = np.repeat(np.arange(IN, dtype="float32")[:, None], IN, axis=1)[None, None]  # row numbers
    for name, value in zip(predictor.get_input_names(), (x, np.zeros([1, 1, OUT, OUT], "float32"))):
        predictor.get_input_handle(name).copy_from_cpu(value)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()[0, 0]


def main() -> int:
    fmt = "PIR" if paddle.framework.use_pir_api() else "ProgramDesc"
    o = np.arange(OUT)
    print(f"Paddle {paddle.__version__}, {fmt} program, nearest {IN} -> {OUT}, align_corners=False")
    print(f"  floor(o * in / out)         {np.floor(o * IN / OUT).astype(int).tolist()}")
    print(f"  floor((o + 0.5) * in / out) {np.floor((o + 0.5) * IN / OUT).astype(int).tolist()}")
    differs = False
    with tempfile.TemporaryDirectory() as tmp:
        for form in ("size 16->31", "size from a tensor", "scale 2"):
            program = save(form, Path(tmp) / form.replace(" ", "_").replace(">", ""))
            off, on = run(program, False), run(program, True)
            diff = float(np.abs(off - on).max())
            differs |= diff > 0
            print(f"{form}: oneDNN off reads rows {off[:, 0].astype(int).tolist()}")
            print(f"{' ' * len(form)}  oneDNN on  reads rows {on[:, 0].astype(int).tolist()}  "
                  f"rows differing: {int((off[:, 0] != on[:, 0]).sum())}/{OUT}")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
