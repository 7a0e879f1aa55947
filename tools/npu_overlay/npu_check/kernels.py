"""Which kernel an op needs, and whether the backend has it.

An op's name is turned into a phi kernel name by the first rule that applies:

  structural    builtin/cf graph ops (combine, split, yield, parameter) need no kernel
  inplace       a trailing ``_`` marks PIR's in-place form, which shares the kernel
  legacy-name   ProgramDesc op types renamed in phi (table below; Paddle's own
                ``paddle.inference._get_phi_kernel_name`` agrees, see the tests)
  same-name     every other op type is its kernel's name

and the kernel is then admitted by the first of:

  npu-kernel            listed in the backend's kernel list
  allow:control-flow    while / if / conditional_block / select_input: run by the executor on
                        the host, which reads the condition back from the device
  allow:view            view-like reshapes Paddle registers for every custom device
  allow:host-shape      shape / shape64: read tensor metadata on the host
  allow:io              feed / fetch / data
  allow:constant        parameters and host-side constant int arrays (full_int_array)

Anything else has no kernel on the backend and falls back to the CPU with copies around it.
ONNX ops are not looked up (``not-checked``): the list names Paddle kernels, and on the ONNX
paths ATC's or the CANN execution provider's operator support decides instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .graph import Op

# ProgramDesc op type -> phi kernel name, for the types that differ
LEGACY_NAMES = {
    "arg_max": "argmax",
    "arg_min": "argmin",
    "bicubic_interp_v2": "bicubic_interp",
    "bilinear_interp_v2": "bilinear_interp",
    "crop_tensor": "crop",
    "diag_v2": "diag",
    "elementwise_add": "add",
    "elementwise_div": "divide",
    "elementwise_floordiv": "floor_divide",
    "elementwise_max": "maximum",
    "elementwise_min": "minimum",
    "elementwise_mod": "remainder",
    "elementwise_mul": "multiply",
    "elementwise_sub": "subtract",
    "expand_as_v2": "expand_as",
    "expand_v2": "expand",
    "fill_any_like": "full_like",
    "fill_constant": "full",
    "fill_constant_batch_size_like": "full_batch_size_like",
    "flatten_contiguous_range": "flatten",
    "gaussian_random": "gaussian",
    "grid_sampler": "grid_sample",
    "hard_sigmoid": "hardsigmoid",
    "hard_swish": "hardswish",
    "isfinite_v2": "isfinite",
    "isinf_v2": "isinf",
    "isnan_v2": "isnan",
    "linear_interp_v2": "linear_interp",
    "lookup_table_v2": "embedding",
    "matmul": "legacy_matmul",
    "matmul_v2": "matmul",
    "mean": "mean_all",
    "mul": "matmul_with_flatten",
    "nearest_interp_v2": "nearest_interp",
    "one_hot_v2": "one_hot",
    "range": "arange",
    "reduce_all": "all",
    "reduce_any": "any",
    "reduce_max": "max",
    "reduce_mean": "mean",
    "reduce_min": "min",
    "reduce_prod": "prod",
    "reduce_sum": "sum",
    "reshape2": "reshape_with_xshape",
    "size": "numel",
    "softmax_with_cross_entropy": "cross_entropy_with_softmax",
    "squeeze2": "squeeze",
    "sum": "add_n",
    "top_k": "topk_v1",
    "top_k_v2": "topk",
    "transpose2": "transpose",
    "trilinear_interp_v2": "trilinear_interp",
    "unsqueeze2": "unsqueeze",
    "where_index": "nonzero",
}

ALLOWED = {
    "allow:control-flow": {"while", "if", "conditional_block", "select_input", "select_output"},
    "allow:view": {
        "reshape", "reshape_with_xshape", "flatten", "flatten_with_xshape",
        "squeeze", "squeeze_with_xshape", "unsqueeze", "unsqueeze_with_xshape",
        "view_shape", "view_dtype",
    },
    "allow:host-shape": {"shape", "shape64"},
    "allow:io": {"feed", "fetch", "data"},
    "allow:constant": {"parameter", "constant", "full_int_array"},
}


class KernelListError(Exception):
    """The kernel list cannot be read (one line, shown to the user)."""


@dataclass(frozen=True)
class KernelMatch:
    kernel: str        # phi kernel name ('' for structural graph ops)
    mapping: str       # the naming rule that produced it
    admitted_by: str   # 'npu-kernel', an 'allow:*' rule, 'structural', or 'missing'

    @property
    def missing(self) -> bool:
        return self.admitted_by == "missing"


@dataclass(frozen=True)
class KernelList:
    path: Path
    names: frozenset[str]

    def match(self, op: Op) -> KernelMatch:
        if op.dialect == "onnx":  # ONNX names are not Paddle kernels: nothing to look up
            return KernelMatch(op.type, "onnx-name", "not-checked")
        if op.dialect in ("builtin", "cf") and op.type not in ALLOWED["allow:constant"]:
            return KernelMatch("", "structural", "structural")
        kernel, mapping = op.type, "same-name"
        if kernel.endswith("_") and not kernel.endswith("__"):
            kernel, mapping = kernel[:-1], "inplace"
        elif op.dialect == "legacy" and kernel in LEGACY_NAMES:
            kernel, mapping = LEGACY_NAMES[kernel], "legacy-name"
        if kernel in self.names:
            return KernelMatch(kernel, mapping, "npu-kernel")
        for rule, kernels in ALLOWED.items():
            if kernel in kernels:
                return KernelMatch(kernel, mapping, rule)
        return KernelMatch(kernel, mapping, "missing")


def load_kernel_list(path: str | Path) -> KernelList:
    """One kernel name a line; '#' starts a comment."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KernelListError(f"kernel list {path} does not exist (give one with --kernels or NPU_KERNEL_LIST)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KernelListError(f"kernel list {path} is unreadable ({type(exc).__name__})") from None
    names = set()
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not name.replace("_", "").isalnum():
            raise KernelListError(f"kernel list {path}:{number}: {name!r} is not a kernel name")
        names.add(name)
    if not names:
        raise KernelListError(f"kernel list {path} names no kernels")
    return KernelList(path, frozenset(names))
