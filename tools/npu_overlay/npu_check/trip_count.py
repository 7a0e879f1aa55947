"""How many times a loop turns, when its exit is a counter compared with a constant.

A loop whose condition is ``counter < N`` (``counter`` starting from a constant and growing by
a constant step every iteration) turns a fixed number of times, known before the model runs;
one whose condition is ``counter < N and <anything else>`` turns at most that many times.
The executor reads the condition back on the host before every iteration either way, so the
trip count is also the number of host reads a loop costs per image.

Recognised (PIR and ProgramDesc alike): ``less_than(counter', N)`` possibly inside
``logical_and`` or handed on through ``assign``; ``counter' = scale(counter, bias=s)`` / ``increment(counter, step=s)`` /
``add(counter, constant s)``; constants from ``full`` / ``fill_constant``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .graph import Block, Op

CONSTANT_OPS = {"full", "fill_constant"}


@dataclass(frozen=True)
class TripCount:
    iterations: int
    exact: bool  # False: the counter only bounds it (the loop may stop earlier)

    def __str__(self) -> str:
        return str(self.iterations) if self.exact else f"<={self.iterations}"


def trip_count(loop: Op, outer: Block) -> TripCount | None:
    """The trip count of ``loop`` (a while op directly in ``outer``), or None when no counter bounds it."""
    if loop.type != "while" or not loop.blocks:
        return None
    body = loop.blocks[0]
    inside = _producers(body.ops)
    before = _producers(outer.ops[: _index(outer, loop)])
    clauses, exact = _less_than_clauses(loop.step_condition, inside)
    counts = []
    for compare in clauses:
        counted = _counted(compare, loop, inside, before)
        if counted is not None:
            counts.append(counted)
    if not counts:
        return None
    return TripCount(min(counts), exact and len(clauses) == 1 and len(counts) == 1)


def _index(block: Block, op: Op) -> int:
    for i, candidate in enumerate(block.ops):
        if candidate is op:
            return i
    return len(block.ops)


def _producers(ops: list[Op]) -> dict[str, Op]:
    """value -> the op that writes it last (ProgramDesc reuses names)."""
    found = {}
    for op in ops:
        for out in op.outputs:
            if out:
                found[out] = op
    return found


def _less_than_clauses(value: str | None, producers: dict[str, Op]) -> tuple[list[Op], bool]:
    """The ``less_than`` ops the condition is a conjunction of; exact when it is nothing else."""
    op = producers.get(value or "")
    if op is None:
        return [], False
    base = op.type.rstrip("_")
    if base == "assign":  # ProgramDesc hands a loop value on by assigning it to the carried name
        return _less_than_clauses(op.inputs[0] if op.inputs else None, producers)
    if base == "less_than":
        return [op], True
    if base == "logical_and":
        found = []
        for operand in op.inputs:
            found += _less_than_clauses(operand, producers)[0]
        return found, False
    return [], False


def _constant(value: str, *scopes: dict[str, Op]) -> float | None:
    for producers in scopes:
        op = producers.get(value)
        if op is not None:
            number = op.attrs.get("value")
            if op.type.rstrip("_") in CONSTANT_OPS and isinstance(number, (int, float)):
                return float(number)
            return None
    return None


def _counted(compare: Op, loop: Op, inside: dict[str, Op], before: dict[str, Op]) -> int | None:
    if len(compare.inputs) < 2:
        return None
    counter_next, bound_value = compare.inputs[:2]
    bound = _constant(bound_value, inside, before)
    update = inside.get(counter_next)
    while update is not None and update.type.rstrip("_") == "assign" and update.inputs:
        update = inside.get(update.inputs[0])
    if bound is None or update is None:
        return None
    counter, step = _step(update, inside, before)
    if counter is None or not step or step <= 0:
        return None
    start = _initial(counter, loop, before)
    if start is None:
        return None
    return max(0, math.ceil((bound - start) / step))


def _step(update: Op, inside: dict[str, Op], before: dict[str, Op]) -> tuple[str | None, float | None]:
    """(the counter the update reads, the constant it adds)."""
    base = update.type.rstrip("_")
    if base == "increment":
        return update.inputs[0], float(update.attrs.get("step", 1.0))
    if base == "scale" and float(update.attrs.get("scale", 1.0)) == 1.0:
        if len(update.inputs) > 1 and update.inputs[1]:  # PIR: the scale is an operand
            if _constant(update.inputs[1], inside, before) != 1.0:
                return None, None
        return update.inputs[0], float(update.attrs.get("bias", 0.0))
    if base in ("add", "elementwise_add") and len(update.inputs) == 2:
        for counter, other in (update.inputs, update.inputs[::-1]):
            step = _constant(other, inside, before)
            if step is not None:
                return counter, step
    return None, None


def _initial(counter: str, loop: Op, before: dict[str, Op]) -> float | None:
    """The counter's value when the loop starts."""
    for body_value, source in loop.carried:
        if body_value == counter:  # the first pair is (block argument, loop operand)
            return _constant(source, before)
    return None
