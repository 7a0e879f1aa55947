"""Where a decoded table ends, as upstream's TableLabelDecode reads it.

A table model's structure output has one row per decode step and one column per class of the
structure dictionary; the dictionary ends with the start and end markers, so end-of-sequence is
the last class. TableLabelDecode skips an end-of-sequence at position 0 and stops at the first
one after it: that token is part of the sequence. Everything that compares decoded tables
(benchmark, parity tests, ONNX checks) reads them through these two functions.
"""

from __future__ import annotations

import numpy as np


def end_of_sequence(structure_probs: np.ndarray) -> int:
    """The end-of-sequence class of a structure output [..., steps, classes]: the last one."""
    return int(structure_probs.shape[-1]) - 1


def sequence_length(token_ids: np.ndarray, eos: int) -> int:
    """Tokens TableLabelDecode reads, end-of-sequence included; all of them when none ends it."""
    ends = np.flatnonzero(np.asarray(token_ids)[1:] == eos)
    return int(ends[0]) + 2 if len(ends) else len(token_ids)
