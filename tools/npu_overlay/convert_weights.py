"""Turn an exported inference model back into training weights (``.pdparams``) for an upstream config.

An inference model keeps only Paddle's auto-generated tensor names (``conv2d_12.w_0``,
``gru_cell_0.w_1``); upstream's ``load_model`` wants structured keys
(``backbone.conv1.conv.weight``). A name map (``tools/npu_overlay/param_maps/<arch>.json``) records, for
every structured key, the auto-generated name and shape upstream's model gives it. The map is
written once from an upstream tree; converting needs only the inference model and the map.

    python -m npu_overlay.convert_weights MODEL_DIR OUT [--map SLANet_ch]      # writes OUT.pdparams
    python -m npu_overlay.convert_weights --write-map --upstream TREE [--config configs/table/SLANet_ch.yml]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from npu_overlay.cli import ToolError, exit_on_missing, missing_dependency

with exit_on_missing("convert_weights", __name__):
    import numpy as np

MAPS_DIR = Path(__file__).resolve().parent / "param_maps"
MODEL_PREFIX = "inference"  # what export_model.py and PaddleX name the files
NOT_WEIGHTS = {"feed", "fetch"}  # persistable plumbing variables of a ProgramDesc


class ConversionError(ToolError):
    """A bad input: the CLI prints it as one line and exits 2."""


# ---- the inference model ------------------------------------------------------------------


def _model_prefix(model_dir: str | os.PathLike) -> Path:
    model_dir = Path(model_dir)
    prefix = model_dir / MODEL_PREFIX
    for suffix in (".pdmodel", ".pdiparams"):
        if not prefix.with_suffix(suffix).is_file():
            raise ConversionError(f"{model_dir}: no {MODEL_PREFIX}{suffix} (expected an inference model directory)")
    return prefix


def load_inference_params(model_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every persistable tensor of an inference model (ProgramDesc format), by its export name."""
    prefix = _model_prefix(model_dir)
    from npu_overlay.run_programdesc import loaded_program

    try:
        with loaded_program(prefix) as model:
            return {
                var.name: np.array(model.scope.find_var(var.name).get_tensor())
                for var in model.program.list_vars()
                if var.persistable and var.name not in NOT_WEIGHTS
            }
    except Exception as exc:  # Paddle raises bare RuntimeErrors with C++ traces
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"{prefix.parent}: cannot load the inference model: {first}") from exc


# ---- the name map ---------------------------------------------------------------------------


def map_path(arch_map: str | os.PathLike) -> Path:
    """A map file, or the name of one shipped in tools/npu_overlay/param_maps (``SLANet_ch``)."""
    path = Path(arch_map)
    if path.suffix != ".json" and not path.exists():
        path = MAPS_DIR / f"{arch_map}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in MAPS_DIR.glob("*.json")))
        raise ConversionError(f"{arch_map}: no such name map (shipped maps: {known or 'none'})")
    return path


def load_map(arch_map: str | os.PathLike) -> dict[str, dict]:
    """Structured key -> {"name": export name, "shape": [...]}."""
    path = map_path(arch_map)
    try:
        params = json.loads(path.read_text(encoding="utf-8"))["params"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConversionError(f"{path}: not a name map ({exc})") from exc
    return params


def _structured(exported: dict[str, np.ndarray], params: dict[str, dict]) -> dict[str, np.ndarray]:
    """Rename export tensors to structured keys; the map must account for every tensor exactly."""
    out = {}
    for key, entry in params.items():
        name, shape = entry["name"], list(entry["shape"])
        if name not in exported:
            raise ConversionError(f"the model has no tensor {name} (map key {key})")
        got = list(exported[name].shape)
        if got != shape:
            raise ConversionError(f"{name} (map key {key}): the model has shape {got}, the map says {shape}")
        out[key] = exported[name]
    unmapped = sorted(set(exported) - {entry["name"] for entry in params.values()})
    if unmapped:
        more = f" and {len(unmapped) - 3} more" if len(unmapped) > 3 else ""
        raise ConversionError(f"the map does not cover the model's tensors {', '.join(unmapped[:3])}{more}")
    return out


def structured_params(model_dir: str | os.PathLike, arch_map: str | os.PathLike) -> dict[str, np.ndarray]:
    """The inference model's tensors keyed by upstream's structured state_dict keys."""
    params = load_map(arch_map)
    return _structured(load_inference_params(model_dir), params)


def head_params(model_dir: str | os.PathLike, arch_map: str | os.PathLike) -> dict[str, np.ndarray]:
    """Only the head's tensors, keyed as the head's own state_dict (``structure_attention_cell.i2h.weight``)."""
    return {
        key[len("head."):]: value
        for key, value in structured_params(model_dir, arch_map).items()
        if key.startswith("head.")
    }


def convert(model_dir: str | os.PathLike, arch_map: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``<out>.pdparams`` (what upstream's ``Global.pretrained_model=<out>`` loads)."""
    import paddle

    state = structured_params(model_dir, arch_map)
    target = Path(str(out).removesuffix(".pdparams") + ".pdparams")
    target.parent.mkdir(parents=True, exist_ok=True)
    # write beside the target and rename, so a failed run never leaves a truncated file
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a weights file is not a secret
    try:
        paddle.save(state, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


# ---- writing a map from an upstream tree ---------------------------------------------------


def write_map(upstream_tree: str | os.PathLike, config: str, out: str | os.PathLike) -> Path:
    """Build upstream's model from ``config`` inside ``upstream_tree`` and record its name map."""
    tree = Path(upstream_tree).resolve()
    if not (tree / "ppocr" / "modeling" / "architectures").is_dir():
        raise ConversionError(f"{upstream_tree}: not an upstream PaddleOCR tree (no ppocr/modeling/architectures)")
    if not (tree / config).is_file():
        raise ConversionError(f"{config}: no such config in {upstream_tree}")
    out = Path(out)
    from npu_overlay.pipeline.tree import last_error_line, run_module_in_tree

    with tempfile.TemporaryDirectory() as tmp:
        record_file, log = Path(tmp) / "names.json", Path(tmp) / "names.log"
        # a fresh process: names are numbered per process, and upstream's imports stay out of ours
        proc = run_module_in_tree(tree, "npu_overlay.upstream_param_names",
                                  ["--config", config, "--out", str(record_file)], log)
        if proc.returncode != 0 or not record_file.is_file():
            raise ConversionError(f"building {config} in {upstream_tree} failed: {last_error_line(log)}")
        record = json.loads(record_file.read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_format_map({"arch": Path(config).stem, **record}), encoding="utf-8")
    return out


def _format_map(doc: dict) -> str:
    """JSON with one line per tensor, so a map reads (and diffs) as a table."""
    head = {k: v for k, v in doc.items() if k != "params"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in doc["params"].items()]
    body = json.dumps(head, indent=1)[:-2]  # reopen the object to append "params"
    return body + ',\n "params": {\n' + ",\n".join(lines) + "\n }\n}\n"


# ---- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", nargs="?", help="inference model directory (inference.pdmodel/.pdiparams)")
    parser.add_argument("out", nargs="?", help="output path prefix; OUT.pdparams is written")
    parser.add_argument("--map", default="SLANet_ch", help="name map: a JSON file or a shipped map's name")
    parser.add_argument("--write-map", nargs="?", const="", metavar="MAP_JSON",
                        help="write a name map from an upstream tree instead (default: tools/npu_overlay/param_maps/<config>.json)")
    parser.add_argument("--upstream", help="upstream PaddleOCR tree, checked out (for --write-map)")
    parser.add_argument("--config", default="configs/table/SLANet_ch.yml",
                        help="config inside the upstream tree (for --write-map)")
    args = parser.parse_args(argv)
    try:
        if args.write_map is not None:
            if not args.upstream:
                parser.error("--write-map needs --upstream TREE")
            out = Path(args.write_map or MAPS_DIR / f"{Path(args.config).stem}.json")
            path = write_map(args.upstream, args.config, out)
            print(f"{path}: {len(load_map(path))} tensors")
        else:
            if not (args.model_dir and args.out):
                parser.error("converting needs MODEL_DIR and OUT")
            path = convert(args.model_dir, args.map, args.out)
            print(path)
    except (ConversionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # paddle, for reading the model or writing .pdparams
        return missing_dependency(exc, "convert_weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
