"""The format-neutral op graph that every check reads.

Both Paddle serialisations (PIR ``inference.json`` and ProgramDesc ``inference.pdmodel``)
and ONNX are read into the same few dataclasses, so the kernel and hazard rules are written once.
Values are plain string keys: variable names in a ProgramDesc, ``%<id>`` in PIR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


# op attributes kept for the trip-count analysis (trip_count.py): constants and counter steps
CONSTANT_ATTRS = {"value", "scale", "bias", "step"}


class ModelReadError(Exception):
    """The input cannot be read as an exported Paddle model (one line, shown to the user)."""


@dataclass
class Op:
    type: str                      # op name without dialect prefix: 'matmul_v2', 'set_value_with_tensor_'
    dialect: str                   # 'pd_op', 'builtin', 'cf' (PIR) or 'legacy' (ProgramDesc)
    inputs: list[str]
    outputs: list[str]
    # operands that set a shape, bound or axis (ProgramDesc *Tensor/*TensorList slots, PIR IntArray operands)
    bound_inputs: list[str] = field(default_factory=list)
    blocks: list["Block"] = field(default_factory=list)
    # control flow: the condition read when the op starts (while, if, conditional_block) ...
    condition: str | None = None
    # ... the condition a loop reads again after every step ...
    step_condition: str | None = None
    # ... and how loop-carried values flow: (value read by the body, value it hands to the next step)
    carried: list[tuple[str, str]] = field(default_factory=list)
    # outputs of a loop or branch and the body values they come from
    results: list[tuple[str, list[str]]] = field(default_factory=list)
    # attributes that constants and counters are read from ('value', 'scale', 'bias', 'step')
    attrs: dict = field(default_factory=dict)


@dataclass
class Block:
    ops: list[Op]


@dataclass
class ModelInput:
    name: str
    shape: list[int]
    dtype: str


@dataclass
class Graph:
    path: Path
    format: str                    # 'pir-json', 'programdesc' or 'onnx'
    top: Block
    inputs: list[ModelInput]
    # values holding model input data when no feed/data op makes them (ONNX graph inputs)
    input_values: list[str] = field(default_factory=list)
    # (op, value) whose shape is not static after shape inference (ONNX only: Paddle exports
    # carry no inferred shapes per value)
    dynamic_values: list[tuple[str, str]] = field(default_factory=list)
