"""Reduced precision emulated faithfully on a CPU that has no fp16 kernels.

The fp32 inference program (ProgramDesc, e.g. the released SLANet_plus) is rewritten the way
Paddle's auto-mixed-precision pass would run it at level O2: every op outside the black list
(and outside control flow) computes in the reduced dtype, so each of its float inputs is cast
to that dtype on entry and each float output leaves it in that dtype. Here the op still
computes in fp32, but every value crossing one of those boundaries goes through a real
``cast`` to float16 / bfloat16 and back, and the weights such ops read are rounded the same
way. What remains fp32 is the arithmetic inside one op (real fp16 kernels accumulate dot
products and softmax sums in fp32 as well) and batch_norm's statistics (AMP keeps them fp32).
"""

from __future__ import annotations

import numpy as np

# ops that never change precision: program plumbing and control flow
PLUMBING = {"feed", "fetch", "while", "conditional_block", "select_input", "select_output"}
KEEP_FP32_PARAMS = {"batch_norm": ("Scale", "Bias", "Mean", "Variance")}
DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}  # fp32: the casts alone
# outputs that hold no value at inference (shape holders, training statistics)
AUXILIARY_OUTPUTS = {"XShape", "ReserveSpace", "MeanOut", "VarianceOut", "SavedMean", "SavedVariance", "Mask"}


def round_array(values: np.ndarray, precision: str) -> np.ndarray:
    """fp32 values rounded to fp16 or bf16 (round to nearest even) and widened back."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if precision == "fp32":
        return values
    if precision == "fp16":
        return values.astype(np.float16).astype(np.float32)
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def _is_float32(block, name: str) -> bool:
    import paddle

    var = block._find_var_recursive(name)
    return var is not None and var.dtype == paddle.float32


def _insert_round_trip(block, index: int, source, low, target) -> None:
    """Two cast ops at ``index``: ``source`` to the reduced dtype (``low``), and back to ``target``."""
    for offset, (x, out) in enumerate(((source, low), (low, target))):
        block._insert_op(index + offset, type="cast", inputs={"X": [x]}, outputs={"Out": [out]},
                         attrs={"in_dtype": x.dtype, "out_dtype": out.dtype})


class EmulatedModel:
    """An fp32 ProgramDesc model run with the AMP boundaries of ``precision`` emulated."""

    def __init__(self, model_prefix: str, precision: str, black_list: set[str], blocks: set[int] | None = None):
        import paddle
        from paddle.pir_utils import OldIrGuard

        dynamic = paddle.in_dynamic_mode()
        paddle.enable_static()  # building ops into a program; the process's mode is restored below
        # the casts read values the while op does not list: keep them alive (no eager deletion)
        paddle.set_flags({"FLAGS_eager_delete_tensor_gb": -1.0})
        try:
            with OldIrGuard():  # ProgramDesc, whatever the process default is
                self._load(model_prefix, precision, black_list, blocks)
        finally:
            if dynamic:
                paddle.disable_static()

    def _load(self, model_prefix: str, precision: str, black_list: set[str], blocks: set[int] | None) -> None:
        import paddle

        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(self.scope):
            self.program, self.feeds, self.fetches = paddle.static.load_inference_model(model_prefix, self.exe)
        self.precision = precision
        self.black_list = set(black_list)
        self.reduced_ops = 0
        rounded_params: set[str] = set()
        for block in self.program.blocks:
            if blocks is None or block.idx in blocks:  # blocks: 0 the backbone + neck, 1 the decode loop
                self._rewrite(block, rounded_params)
        for name in rounded_params:
            tensor = self.scope.find_var(name).get_tensor()
            tensor.set(round_array(np.array(tensor), precision), paddle.CPUPlace())
        self.rounded_params = len(rounded_params)

    def _rewrite(self, block, rounded_params: set[str]) -> None:
        dtype = DTYPES[self.precision]
        index = 0
        counter = 0
        while index < len(block.ops):
            op = block.ops[index]
            if op.type in PLUMBING or op.type in self.black_list:
                index += 1
                continue
            self.reduced_ops += 1
            keep = KEEP_FP32_PARAMS.get(op.type, ())
            for slot in op.input_names:
                for name in op.input(slot):
                    if not _is_float32(block, name):
                        continue
                    var = block._find_var_recursive(name)
                    if var.persistable:
                        if slot not in keep:
                            rounded_params.add(name)
                        continue
                    counter += 1
                    low = block.create_var(name=f"{name}@amp_low{counter}", dtype=dtype, shape=var.shape)
                    back = block.create_var(name=f"{name}@amp_in{counter}", dtype="float32", shape=var.shape)
                    _insert_round_trip(block, index, var, low, back)
                    op._rename_input(name, back.name)
                    index += 2
            index += 1  # past the op itself: round what it wrote
            for slot in op.output_names:
                if slot in AUXILIARY_OUTPUTS:
                    continue
                for name in op.output(slot):
                    if not _is_float32(block, name) or block._find_var_recursive(name).persistable:
                        continue
                    var = block._find_var_recursive(name)
                    counter += 1
                    low = block.create_var(name=f"{name}@amp_out{counter}", dtype=dtype, shape=var.shape)
                    _insert_round_trip(block, index, var, low, var)
                    index += 2

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        import paddle
        from paddle.pir_utils import OldIrGuard

        with OldIrGuard(), paddle.static.scope_guard(self.scope):
            dynamic = paddle.in_dynamic_mode()
            paddle.enable_static()
            try:
                return self.exe.run(self.program, feed={self.feeds[0]: batch}, fetch_list=self.fetches)
            finally:
                if dynamic:
                    paddle.disable_static()
