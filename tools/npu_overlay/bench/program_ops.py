"""Ops per decode step in an exported program, read with ``npu_overlay.npu_check``'s graph reader.

On a CPU with 2 threads the decode step's tensors are tiny ([1, 256] hidden state, 256
feature positions), so a step costs roughly its number of ops times the executor's
per-op overhead; the op count explains the measured per-step cost. Counted as exported,
before Paddle Inference's passes; ``builtin``/``cf`` ops of PIR (value plumbing, yields)
are left out as they launch no kernel.
"""

from __future__ import annotations

from npu_overlay.npu_check.graph import Block
from npu_overlay.npu_check.load import load_graph

NOT_KERNELS = {"builtin", "cf"}


def kernel_ops(block: Block) -> int:
    count = 0
    for op in block.ops:
        count += op.dialect not in NOT_KERNELS and op.type not in ("feed", "fetch")
        count += sum(kernel_ops(b) for b in op.blocks)
    return count


def loop_body_ops(block: Block) -> int | None:
    """Kernel ops of the first ``while`` loop's body, nested blocks included; None without a loop."""
    for op in block.ops:
        if op.type == "while":
            return sum(kernel_ops(b) for b in op.blocks)
        for inner in op.blocks:
            found = loop_body_ops(inner)
            if found is not None:
                return found
    return None


def count_ops(program: str) -> dict:
    top = load_graph(program).top
    return {"kernel_ops": kernel_ops(top), "loop_body_ops": loop_body_ops(top)}


def ops_per_step(counts: dict[str, dict], kinds: dict[str, tuple[str | None, int | None]],
                 features: str | None, steps_fixed: int = 501) -> dict[str, float | None]:
    """model -> ops per step: loop body / steps per iteration; for a loop-free (fixed) program,
    (its ops - the features model's ops) / steps, which also spreads the head's once-per-image ops."""
    per_step = {}
    for name, c in counts.items():
        mode, unroll = kinds[name]
        if name == features or mode is None:
            continue
        if c["loop_body_ops"] is not None:
            per_step[name] = c["loop_body_ops"] / (unroll if isinstance(unroll, int) else 1)
        elif features in counts:
            per_step[name] = (c["kernel_ops"] - counts[features]["kernel_ops"]) / steps_fixed
        else:
            per_step[name] = None
    return per_step
