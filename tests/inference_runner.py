"""Test helper: run a ProgramDesc inference model (the old .pdmodel format) on one batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npu_overlay.run_programdesc import loaded_program


def run_inference_model(model_dir: Path, batch: np.ndarray) -> list[np.ndarray]:
    """All outputs of the model in its fetch order (SLANet: loc_preds, structure_probs)."""
    with loaded_program(Path(model_dir) / "inference") as model:
        return model.run(batch)


def run_with_head_input(model_dir: Path, batch: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The features a SLANet export feeds its head (the neck's last level, [N, C, H, W]) and
    all of the model's outputs, from one run of the export itself."""
    with loaded_program(Path(model_dir) / "inference") as model:
        ops = model.program.global_block().ops
        loop = next(i for i, op in enumerate(ops) if op.type == "while")
        # the head flattens its input with the last reshape before its decode loop
        flatten = next(op for op in reversed(ops[:loop]) if op.type == "reshape2")
        features, *outputs = model.run(batch, extra_fetches=(flatten.input("X")[0],))
        return features, outputs
