"""Where an exported Paddle inference model's files are.

``tools/export_model.py`` writes ``inference.json`` (Paddle 3's PIR program) or
``inference.pdmodel`` (the old ProgramDesc) next to ``inference.pdiparams``. The pipeline, the
benchmark and the ONNX export all look for a complete pair here; the NPU check, which only reads
the program, finds program files of its own (``npu_overlay.npu_check.load``).
"""

from __future__ import annotations

from pathlib import Path

PROGRAM_NAMES = ("inference.json", "inference.pdmodel")  # PIR first, as Paddle 3 loads it
PARAMS_NAME = "inference.pdiparams"


def find_program(export_dir: str | Path) -> Path | None:
    """The export's program file when its parameters are beside it, else None."""
    export_dir = Path(export_dir)
    if not (export_dir / PARAMS_NAME).is_file():
        return None
    for name in PROGRAM_NAMES:
        if (export_dir / name).is_file():
            return export_dir / name
    return None
