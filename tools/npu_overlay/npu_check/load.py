"""Find an export's model file and read it into the format-neutral graph (``graph.py``).

One reader per format: PIR ``inference.json``, ProgramDesc ``inference.pdmodel``, ONNX ``.onnx``.
"""

from __future__ import annotations

from pathlib import Path

from .graph import Graph, ModelReadError
from .read_onnx import read_onnx
from .read_pir import read_pir_json
from .read_programdesc import read_programdesc

def find_model_file(path: Path) -> Path:
    """The model file for a path that names a file or an export directory."""
    if not path.exists():
        raise ModelReadError(f"{path}: no such file or directory")
    if path.is_file():
        return path
    for name in ("inference.json", "inference.pdmodel", "model.json", "model.pdmodel", "model.onnx", "inference.onnx"):
        if (path / name).is_file():
            return path / name
    candidates = sorted(path.glob("*.pdmodel")) + sorted(path.glob("*.json")) + sorted(path.glob("*.onnx"))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelReadError(f"{path}: no exported model here (expected inference.json, inference.pdmodel or *.onnx)")
    raise ModelReadError(f"{path}: several model files here, name one: {', '.join(c.name for c in candidates)}")


def load_graph(path: str | Path) -> Graph:
    """Read an export (file or directory) into a Graph; ModelReadError for anything unreadable."""
    model = find_model_file(Path(path))
    if model.suffix == ".json":
        return read_pir_json(model)
    if model.suffix == ".pdmodel":
        return read_programdesc(model)
    if model.suffix == ".onnx":
        return read_onnx(model)
    raise ModelReadError(f"{model}: unknown model format (expected a PIR .json, a ProgramDesc .pdmodel or .onnx)")
