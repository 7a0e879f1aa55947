"""Timing every model on every image in one process, interleaved, and what each model decoded.

Protocol: every predictor is warmed up on every image first (PIR programs compile and cache
on their first runs), then each round runs every image through every model; the model order
rotates from one (round, image) to the next, so that no model always runs right after the
same other one. The statistic kept per (model, image) is the median over the rounds.

Steps: upstream's output has one row per decode step it ran (it stops on the step that
produces end-of-sequence); the overlay's outputs always have max_text_length + 1 rows, and
the steps it ran follow from its strategy (``BenchModel.steps_run``: early_stop finishes the
block of the first end-of-sequence, fixed runs every block). The table itself is the tokens
up to the first end-of-sequence after position 0, and that is what post-processing
(TableLabelDecode) reads.
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, field

import numpy as np

from npu_overlay.bench.models import FEATURES, BenchModel
from npu_overlay.bench.predictors import make_predictor
from npu_overlay.table_tokens import end_of_sequence, sequence_length


@dataclass
class Decoded:
    steps_run: int            # decode steps the model ran (see the module docstring)
    first_eos: int | None     # first end-of-sequence, position 0 included (where the loops stop)
    sequence_steps: int       # first end-of-sequence (after position 0) + 1
    tokens: np.ndarray        # the sequence itself, end-of-sequence included
    structure: np.ndarray     # [steps_run, classes] probabilities
    loc: np.ndarray           # [steps_run, loc_reg_num]


@dataclass
class Measurement:
    models: list[BenchModel]
    images: list[str]
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)   # model -> image -> samples
    decoded: dict[str, dict[str, Decoded]] = field(default_factory=dict)       # table models only

    def median_ms(self, model: str, image: str) -> float:
        return 1000.0 * statistics.median(self.seconds[model][image])


def decode_outputs(outputs: list[np.ndarray]) -> Decoded:
    """Upstream's predictor order: outputs[0] loc_preds, outputs[1] structure_probs (batch of one)."""
    if len(outputs) != 2 or outputs[1].ndim != 3 or outputs[0].shape[:2] != outputs[1].shape[:2]:
        raise ValueError(f"not a SLANet output: shapes {[o.shape for o in outputs]}")
    loc, structure = outputs[0][0], outputs[1][0]
    eos = end_of_sequence(structure)
    tokens = structure.argmax(axis=-1)
    length = sequence_length(tokens, eos)
    first = np.nonzero(tokens == eos)[0]
    first_eos = int(first[0]) if len(first) else None
    return Decoded(int(structure.shape[0]), first_eos, length, tokens[:length], structure, loc)


def compare(decoded: Decoded, reference: Decoded) -> dict:
    """Same tables? Tokens equal, and how far the probabilities and boxes are over the table."""
    same = decoded.sequence_steps == reference.sequence_steps and np.array_equal(decoded.tokens, reference.tokens)
    n = min(decoded.sequence_steps, reference.sequence_steps)
    return {
        "tokens_equal": bool(same),
        "max_abs_diff_structure": float(np.abs(decoded.structure[:n] - reference.structure[:n]).max()),
        "max_abs_diff_loc": float(np.abs(decoded.loc[:n] - reference.loc[:n]).max()),
    }


def measure(models: list[BenchModel], batches: dict[str, np.ndarray], threads: int, repeats: int,
            warmup: int = 2, log=print) -> Measurement:
    with contextlib.ExitStack() as stack:  # dygraph workers end with the measurement, however it ends
        predictors = {}
        for m in models:
            predictors[m.name] = make_predictor(m, threads)
            if hasattr(predictors[m.name], "close"):
                stack.callback(predictors[m.name].close)
        return _measure(models, predictors, batches, repeats, warmup, log)


def _measure(models, predictors, batches, repeats, warmup, log) -> Measurement:
    images = list(batches)
    by_name = {m.name: m for m in models}
    result = Measurement(models, images)
    for name, predictor in predictors.items():
        result.seconds[name] = {image: [] for image in images}
        for image, batch in batches.items():
            for _ in range(warmup):
                outputs = predictor.run(batch).outputs
            if name != FEATURES:
                decoded = decode_outputs(outputs)
                decoded.steps_run = by_name[name].steps_run(decoded.first_eos, decoded.steps_run)
                result.decoded.setdefault(name, {})[image] = decoded
    names = list(predictors)
    for round_ in range(repeats):
        for i, (image, batch) in enumerate(batches.items()):
            shift = (round_ * len(images) + i) % len(names)
            for name in names[shift:] + names[:shift]:
                result.seconds[name][image].append(predictors[name].run(batch).seconds)
        log(f"round {round_ + 1}/{repeats} done")
    return result
