"""Reader for Paddle 3 PIR programs serialised as JSON (``inference.json``).

The serialisation is compact: an op is ``{"#": "<dialect id>.<name>", "I": operands,
"O": results, "A": attributes, "regions": ...}``, values are ``{"%": id}`` (block
arguments have negative ids), and dialects are numbered: 0 builtin, 1 pd_op, 2 cf
(control flow), 3 custom_op, 4 pd_dist. Parameters are the short op name ``p``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .graph import CONSTANT_ATTRS, Block, Graph, ModelInput, ModelReadError, Op

DIALECTS = {"0": "builtin", "1": "pd_op", "2": "cf", "3": "custom_op", "4": "pd_dist"}

# Operand positions that PIR turned from attributes into values (IntArray/Scalar shape,
# bound and axis arguments). When their producer is not a constant, the op's output shape
# or window is decided at run time.
BOUND_OPERANDS = {
    "slice": (1, 2),
    "strided_slice": (1, 2, 3),
    "set_value": (1, 2, 3),
    "set_value_with_tensor": (2, 3, 4),
    "full_with_tensor": (1,),
    "empty": (0,),
    "reshape": (1,),
    "expand": (1,),
    "tile": (1,),
    "arange": (0, 1, 2),
    "linspace": (2,),
    "gaussian": (0,),
    "uniform": (0,),
    "randint": (0,),
    "one_hot": (1,),
    "split": (1, 2),
    "split_with_num": (1,),
    "concat": (1,),
    "squeeze": (1,),
    "unsqueeze": (1,),
    "argmax": (1,),
    "argmin": (1,),
    "topk": (1,),
    "sum": (1,),
    "mean": (1,),
    "max": (1,),
    "min": (1,),
    "prod": (1,),
    "cumsum": (1,),
    "roll": (1,),
    "pad3d": (1,),
    "crop": (1, 2),
    "bilinear_interp": (1, 2, 3),
    "nearest_interp": (1, 2, 3),
    "bicubic_interp": (1, 2, 3),
    "linear_interp": (1, 2, 3),
}


def _split_name(raw: str) -> tuple[str, str]:
    if raw == "p":
        return "builtin", "parameter"
    prefix, dot, name = raw.partition(".")
    if not dot:
        return "pd_op", raw
    return DIALECTS.get(prefix, prefix), name


def _values(items, key: str = "%") -> list[str]:
    if isinstance(items, dict):
        items = [items]
    keys = []
    for item in items or []:
        vid = item.get(key) if isinstance(item, dict) else None
        keys.append(f"%{vid}" if vid else "")  # id 0: an absent optional operand
    return keys


def _attrs(op: dict) -> dict:
    found = {}
    for attr in op.get("A") or []:
        if isinstance(attr, dict) and "N" in attr:
            found[attr["N"]] = (attr.get("AT") or {}).get("D")
    return found


def _block_of(region: dict) -> dict:
    blocks = region.get("blocks") or []
    if len(blocks) != 1:
        raise ModelReadError(f"a region with {len(blocks)} blocks (expected 1)")
    return blocks[0]


def _last_yield(block: Block) -> list[str]:
    if block.ops and block.ops[-1].type == "yield":
        return block.ops[-1].inputs
    return []


def _read_block(data: dict, inputs: list[ModelInput]) -> Block:
    ops = []
    for raw in data.get("ops") or []:
        dialect, name = _split_name(raw["#"])
        op = Op(type=name, dialect=dialect, inputs=_values(raw.get("I")), outputs=_values(raw.get("O")),
                attrs={k: v for k, v in _attrs(raw).items() if k in CONSTANT_ATTRS})
        base = name.rstrip("_")
        op.bound_inputs = [op.inputs[i] for i in BOUND_OPERANDS.get(base, ()) if i < len(op.inputs) and op.inputs[i]]
        if name in ("data", "feed") and dialect == "pd_op":
            attrs = _attrs(raw)
            inputs.append(ModelInput(str(attrs.get("name")), list(attrs.get("shape") or []), str(attrs.get("dtype"))))
        regions = raw.get("regions") or []
        if regions:
            bodies = [_block_of(region) for region in regions]
            op.blocks = [_read_block(body, inputs) for body in bodies]
            _wire_control_flow(op, bodies)
        ops.append(op)
    return Block(ops)


def _wire_control_flow(op: Op, bodies: list[dict]) -> None:
    op.condition = op.inputs[0] if op.inputs else None
    if op.type == "while":
        args = _values(bodies[0].get("args"), key="#")  # block arguments carry their id under '#'
        yielded = _last_yield(op.blocks[0])
        op.step_condition = yielded[0] if yielded else None
        # body argument k starts as while operand k+1 and is replaced by yield operand k+1
        op.carried = [(arg, op.inputs[k + 1]) for k, arg in enumerate(args) if k + 1 < len(op.inputs)]
        op.carried += [(arg, yielded[k + 1]) for k, arg in enumerate(args) if k + 1 < len(yielded)]
        op.results = [(out, [args[k]]) for k, out in enumerate(op.outputs) if k < len(args)]
    else:  # if (and other region ops): result k is yield operand k of whichever branch ran
        yields = [_last_yield(block) for block in op.blocks]
        op.results = [(out, [y[k] for y in yields if k < len(y)]) for k, out in enumerate(op.outputs)]


def read_pir_json(path: Path) -> Graph:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelReadError(f"{path}: not a readable PIR JSON program ({type(exc).__name__})") from None
    if not isinstance(data, dict) or (data.get("base_code") or {}).get("magic") != "pir" or "program" not in data:
        raise ModelReadError(f"{path}: a JSON file but not a Paddle PIR program (no 'pir' magic)")
    inputs: list[ModelInput] = []
    try:
        regions = data["program"]["regions"]
        top = _read_block(_block_of(regions[0]), inputs)
    except (KeyError, IndexError, TypeError, AttributeError, ModelReadError) as exc:
        raise ModelReadError(f"{path}: malformed PIR program ({exc})") from None
    if not top.ops:
        raise ModelReadError(f"{path}: the PIR program has no ops")
    return Graph(path=path, format="pir-json", top=top, inputs=inputs)
