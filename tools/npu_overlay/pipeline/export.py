"""Export the table model with upstream's own ``tools/export_model.py``.

Weights: a given checkpoint (``best_accuracy.pdparams`` or its prefix), else SLANet_plus
converted from its inference model to upstream's SLANet_ch layout (``npu_overlay.convert_weights``).
Config: the tree's NPU config when the overlay added it, else the plain upstream config.
A pristine tree cannot read Paddle 3's ``inference.json``, so its export is written in the
old format (``FLAGS_enable_pir_api=0``).
"""

from __future__ import annotations

from pathlib import Path

from npu_overlay.exports import find_program
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.tree import EXPORT_PATCH, LOADER_PATCH, has, last_error_line, run_in_tree

NPU_CONFIG = "configs/table/SLANet_ch_npu.yml"
PLAIN_CONFIG = "configs/table/SLANet_ch.yml"
SLANET_PLUS_MAP = "SLANet_ch"  # SLANet_plus has SLANet_ch's architecture


def default_config(tree: Path) -> str:
    return NPU_CONFIG if has(tree, EXPORT_PATCH) and (tree / NPU_CONFIG).is_file() else PLAIN_CONFIG


def checkpoint_prefix(checkpoint: str | None, work: Path) -> Path:
    """The ``.pdparams`` prefix to export from, converting SLANet_plus when none is given."""
    if checkpoint:
        prefix = Path(checkpoint)
        if prefix.suffix == ".pdparams":
            prefix = prefix.with_suffix("")
        if not prefix.with_suffix(".pdparams").is_file():
            raise PipelineError(f"checkpoint {prefix}.pdparams does not exist")
        return prefix.resolve()
    from npu_overlay.convert_weights import convert
    from npu_overlay.model_cache import model_dir

    out = work / "weights" / "slanet_plus"
    if not out.with_suffix(".pdparams").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        convert(model_dir("slanet_plus"), SLANET_PLUS_MAP, out)
    return out.resolve()


def export_table_model(tree: Path, work: Path, checkpoint: str | None = None,
                       config: str | None = None, options: list[str] | None = None,
                       env: dict[str, str] | None = None) -> dict:
    """Run upstream's export; returns what was exported from what. ``env`` overrides the
    environment chosen here (e.g. ``FLAGS_enable_pir_api=1`` for a PIR export of a pristine tree)."""
    config = config or default_config(tree)
    if not (tree / config).is_file():
        raise PipelineError(f"config {config} is not in {tree}")
    prefix = checkpoint_prefix(checkpoint, work)
    export_dir = (work / "export").resolve()
    opts = [f"Global.pretrained_model={prefix}", f"Global.save_inference_dir={export_dir}",
            "Architecture.Backbone.pretrained=False", *(options or [])]
    env = {**({} if has(tree, LOADER_PATCH) else {"FLAGS_enable_pir_api": "0"}), **(env or {})}
    log = work / "logs" / "export.log"
    proc = run_in_tree(tree, ["tools/export_model.py", "-c", config, "-o", *opts], log, env)
    program = find_program(export_dir)
    if proc.returncode != 0 or program is None:
        raise PipelineError(f"export failed ({log}): {last_error_line(log)}")
    return {"config": config, "options": opts[3:], "weights": str(prefix) + ".pdparams",
            "dir": str(export_dir), "program": program.name}
