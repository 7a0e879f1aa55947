"""The device a pipeline runs on: parsed and checked by the tree's own ``tools/infer/device.py``
(added by our overlay), loaded by file path, so there is one implementation of the preflight.

NPU runs get the flags a static-shape export wants, unless the caller's environment sets them:

* ``FLAGS_npu_jit_compile=false``: graph mode, the whole static graph compiled once by CANN's
  graph engine instead of op-by-op online compilation (which costs seconds per image on the
  decode loop, PaddleOCR #13729).
* ``FLAGS_npu_storage_format=false``: plain ND formats; set it to true to let Conv/BN use
  Ascend's private formats (faster convolutions, worth measuring per model).
* ``CUSTOM_DEVICE_BLACK_LIST``: comma-separated ops forced onto the CPU; empty by default.
  Use it for an op the NPU check reports without an NPU kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

from npu_overlay.engine.patch_files import load_module
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.tree import DEVICE_PATCH, PRECISION_PATCH, has

PRECISIONS = ("fp32", "fp16", "bf16")

NPU_ENV_DEFAULTS = {
    "FLAGS_npu_jit_compile": "false",
    "FLAGS_npu_storage_format": "false",
    "CUSTOM_DEVICE_BLACK_LIST": "",
}


def load_tree_device_module(tree: Path, path: str = DEVICE_PATCH):
    """The tree's ``tools/infer/device.py`` (or ``precision.py``) as a standalone module (both
    import only the stdlib at load time)."""
    return load_module(tree / path, "_tree_" + Path(path).stem)


def preflight(tree: Path, spec: str):
    """Parse and check the device; PipelineError naming what is missing. Returns the parsed Device."""
    if not has(tree, DEVICE_PATCH):
        # a pristine upstream tree: only its own use_gpu switch exists
        if spec not in ("cpu", "gpu"):
            raise PipelineError(f"{tree} has no device patch: it runs on cpu or gpu only, not {spec!r}")
        return None
    device = load_tree_device_module(tree)
    try:
        return device.require_device(spec)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    except device.DeviceUnavailable as exc:
        raise PipelineError(str(exc)) from None


def precision_preflight(tree: Path, device, precision: str) -> None:
    """PipelineError unless the tree's predictors can run ``precision`` on the parsed ``device``
    (the same check, from the tree's own ``tools/infer/precision.py``, that they run themselves)."""
    if precision not in PRECISIONS:
        raise PipelineError(f"unknown precision {precision!r}: expected {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return
    if not has(tree, PRECISION_PATCH):
        raise PipelineError(f"{tree} has no precision patch: its predictors run fp32 only without TensorRT")
    reason = load_tree_device_module(tree, PRECISION_PATCH).problem(precision, device.kind if device else "cpu")
    if reason:
        raise PipelineError(f"--precision {precision}: {reason}")


def predictor_flags(tree: Path, spec: str, precision: str = "fp32") -> list[str]:
    """Upstream command-line flags that put det, rec and table on the device, in the precision."""
    flags = [f"--precision={precision}"] if precision != "fp32" else []
    if has(tree, DEVICE_PATCH):
        return [f"--device={spec}", *flags]
    return [f"--use_gpu={spec == 'gpu'}", *flags]


def device_env(spec: str) -> dict[str, str]:
    """Environment for the tree's processes: the NPU flags, the caller's values first."""
    if not spec.startswith("npu"):
        return {}
    return {k: os.environ.get(k, v) for k, v in NPU_ENV_DEFAULTS.items()}
