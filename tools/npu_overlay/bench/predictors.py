"""Paddle Inference predictors on the CPU, configured as upstream's ``create_predictor``
(tools/infer/utility.py, with patch 0002) configures the table model there:

* what depends on the program's format is patch 0002's own ``configure_for_program``, loaded from
  the series: memory optimisation for ``.pdmodel`` only (Paddle 3.0 fails to create a predictor
  for a PIR ``.json`` with it), oneDNN off unless asked for (Paddle 3 turns it on for PIR
  programs), and off even then for a program whose nearest resizes oneDNN reads differently
  (docs/onednn-bug.md);
* one deliberate difference: the thread count is always set (upstream sets it only together
  with oneDNN), so that every model runs on the same number of cores.
"""

from __future__ import annotations

import functools
import io
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npu_overlay.onnx_export import in_paddle_order

# passes upstream deletes for every model, and fc_fuse_pass it deletes for the table model
DELETED_PASSES = ("conv_transpose_eltwiseadd_bn_fuse_pass", "matmul_transpose_reshape_fuse_pass", "fc_fuse_pass")


@functools.cache
def program_settings():
    """Patch 0002's ``tools/infer/inference_files.py``, as the series writes it."""
    from npu_overlay.engine.patch_files import extract, load_module

    with tempfile.TemporaryDirectory() as tmp:
        return load_module(extract("tools/infer/inference_files.py", Path(tmp)), "_patch_inference_files")


def config_for(program: str | Path, threads: int, onednn: bool = False, bf16_ops=None):
    """The CPU config; ``onednn`` turns oneDNN on, with ``bf16_ops`` in bf16 (upstream's order for
    --enable_mkldnn: oneDNN and its bf16 set before the thread count, or no op runs in bf16)."""
    from paddle import inference

    program = Path(program)
    config = inference.Config(str(program), str(program.with_suffix(".pdiparams")))
    config.disable_gpu()
    if not onednn:
        config.disable_mkldnn()  # upstream's default (--enable_mkldnn=False), whatever the format
    else:
        config.enable_mkldnn()
        if bf16_ops is not None:
            config.enable_mkldnn_bfloat16()
            config.set_bfloat16_op(set(bf16_ops))
    config.set_cpu_math_library_num_threads(threads)
    program_settings().configure_for_program(config, str(program), onednn)
    config.disable_glog_info()
    for name in DELETED_PASSES:
        config.delete_pass(name)
    config.switch_use_feed_fetch_ops(False)
    config.switch_ir_optim(True)
    return config


def config_summary(threads: int) -> dict:
    return {"device": "cpu", "onednn": False, "cpu_math_library_num_threads": threads, "ir_optim": True,
            "deleted_passes": list(DELETED_PASSES), "memory_optim": ".pdmodel only",
            "program_settings": "patch 0002's configure_for_program"}


@dataclass
class Run:
    seconds: float
    outputs: list[np.ndarray]


class TimedPredictor:
    """One predictor; ``run`` times input copy + run + output copy (what a caller pays)."""

    def __init__(self, program: str | Path, threads: int, onednn: bool = False, bf16_ops=None):
        from paddle import inference

        self.predictor = inference.create_predictor(config_for(program, threads, onednn, bf16_ops))
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.outputs = [self.predictor.get_output_handle(n) for n in self.predictor.get_output_names()]

    def run(self, batch: np.ndarray) -> Run:
        start = time.perf_counter()
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        outputs = [h.copy_to_cpu() for h in self.outputs]
        return Run(time.perf_counter() - start, outputs)


class OnnxPredictor:
    """An ONNX model on onnxruntime's CPU provider, timed like ``TimedPredictor`` and returning
    its outputs in Paddle's order (loc_preds, structure_probs: the narrower one is the boxes)."""

    def __init__(self, model: str | Path, threads: int):
        from npu_overlay.onnx_export.simplify import ort_session

        self.session = ort_session(Path(model), threads)
        self.input = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> Run:
        start = time.perf_counter()
        outputs = self.session.run(None, {self.input: batch})
        seconds = time.perf_counter() - start
        return Run(seconds, in_paddle_order(outputs))


# the dygraph worker's messages are preceded by their length
MESSAGE_LENGTH = struct.Struct("<Q")


class DygraphPredictor:
    """Upstream's model in dygraph mode, in a worker process inside the tree that holds it
    (``npu_overlay.bench.dygraph_worker``); ``run`` returns the seconds the worker measured around
    the call, without the pipe's transfer."""

    def __init__(self, tree: str | Path, config: str, weights: str | Path, threads: int, log: Path):
        """``weights``: the prefix of a ``.pdparams`` file for ``config``'s model."""
        from npu_overlay.pipeline.tree import tree_env

        self.length = MESSAGE_LENGTH
        self.log = Path(log)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # the same threads as the predictors, and oneDNN off as there
        env = tree_env(Path(tree), {"OMP_NUM_THREADS": str(threads), "FLAGS_use_mkldnn": "0"})
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "npu_overlay.bench.dygraph_worker", config,
                                          str(weights)], cwd=tree, env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)

    def run(self, batch: np.ndarray) -> Run:
        buffer = io.BytesIO()
        np.save(buffer, batch)
        try:
            self.proc.stdin.write(self.length.pack(len(buffer.getvalue())) + buffer.getvalue())
            self.proc.stdin.flush()
            head = self.proc.stdout.read(self.length.size)
            size = self.length.unpack(head)[0]  # struct.error: the worker ended before replying
            body = self.proc.stdout.read(size)
            if len(body) != size:
                raise EOFError(f"{len(body)} of {size} bytes")
            reply = np.load(io.BytesIO(body))
        except (BrokenPipeError, struct.error, EOFError, ValueError):
            from npu_overlay.bench import BenchError
            from npu_overlay.pipeline.tree import last_error_line

            self.close()
            raise BenchError(f"the dygraph worker stopped ({self.log}): {last_error_line(self.log)}") from None
        return Run(float(reply["seconds"]), [reply["loc_preds"], reply["structure_probs"]])

    def close(self) -> None:
        """End of input ends the worker; one that does not end within a minute is killed."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # the worker is gone: nothing to flush to
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def program_predictor(program: str | Path, threads: int):
    """Paddle Inference for a Paddle export, onnxruntime for an ``.onnx``."""
    return (OnnxPredictor if Path(program).suffix == ".onnx" else TimedPredictor)(program, threads)


def make_predictor(model, threads: int):
    """The predictor of a ``BenchModel``: its program's, or a dygraph worker in its tree."""
    if model.tree is not None:
        return DygraphPredictor(model.tree, model.config, Path(model.program).with_suffix(""), threads,
                                Path(model.program).parent / f"{model.name}.log")
    if model.onednn:
        return TimedPredictor(model.program, threads, onednn=True, bf16_ops=model.bf16_ops)
    return program_predictor(model.program, threads)
