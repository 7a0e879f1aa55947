"""Test helper: run a ProgramDesc inference model (the old .pdmodel format) on one batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_inference_model(model_dir: Path, batch: np.ndarray) -> list[np.ndarray]:
    """All outputs of the model in its fetch order (SLANet: loc_preds, structure_probs)."""
    import paddle
    from paddle.pir_utils import OldIrGuard

    # paddle 3 reads PIR programs by default; these exports are ProgramDesc
    with OldIrGuard():
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(scope):
            program, feeds, fetches = paddle.static.load_inference_model(str(Path(model_dir) / "inference"), exe)
            return exe.run(program, feed={feeds[0]: batch}, fetch_list=fetches)


def run_with_head_input(model_dir: Path, batch: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The features a SLANet export feeds its head (the neck's last level, [N, C, H, W]) and
    all of the model's outputs, from one run of the export itself."""
    import paddle
    from paddle.pir_utils import OldIrGuard

    with OldIrGuard():
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(scope):
            program, feeds, fetches = paddle.static.load_inference_model(str(Path(model_dir) / "inference"), exe)
            ops = program.global_block().ops
            loop = next(i for i, op in enumerate(ops) if op.type == "while")
            # the head flattens its input with the last reshape before its decode loop
            flatten = next(op for op in reversed(ops[:loop]) if op.type == "reshape2")
            features = flatten.input("X")[0]
            features, *outputs = exe.run(program, feed={feeds[0]: batch}, fetch_list=[features, *fetches])
            return features, outputs
