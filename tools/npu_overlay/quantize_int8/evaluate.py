"""fp32 against int8 on tables with known structure: tokens and boxes as upstream's
TableLabelDecode reads them, TEDS-struct against the truth with upstream's own metric, and
onnxruntime CPU latency measured interleaved in one process."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npu_overlay.quantize_int8 import QuantizeError

TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"  # SLANet_ch / SLANet_plus
TD_TOKENS = ("<td>", "<td", "<td></td>")


def character_list(tree: Path) -> list[str]:
    """TableLabelDecode's classes for SLANet_ch (merge_no_span_structure): "<td></td>" appended,
    "<td>" removed, then start and end of sequence around the dictionary."""
    path = Path(tree) / TABLE_DICT
    if not path.is_file():
        raise QuantizeError(f"{tree}: no {TABLE_DICT} (give an upstream tree built by python apply.py)")
    chars = [line.strip("\r\n") for line in path.read_text(encoding="utf-8").splitlines()]
    if "<td></td>" not in chars:
        chars.append("<td></td>")
    if "<td>" in chars:
        chars.remove("<td>")
    return ["sos", *chars, "eos"]


def split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(structure_probs, loc_preds) whatever the output order: 8 box coordinates against the classes."""
    loc = next(o for o in outputs if o.shape[-1] == 8)
    structure = next(o for o in outputs if o.shape[-1] != 8)
    return structure[0], loc[0]


@dataclass
class Table:
    tokens: list[str]
    boxes: np.ndarray  # [cells, 8] in image pixels

    @property
    def html(self) -> str:
        return "<html><body><table>" + "".join(self.tokens) + "</table></body></html>"


def decode(outputs: list[np.ndarray], shape: np.ndarray, chars: list[str]) -> Table:
    """TableLabelDecode's reading: stop at the first end-of-sequence after position 0, skip the
    start/end classes, one box per cell-opening token, scaled by the image's width and height."""
    structure, loc = split_outputs(outputs)
    if structure.shape[-1] != len(chars):
        raise QuantizeError(f"the model has {structure.shape[-1]} classes, the dictionary {len(chars)}")
    end = len(chars) - 1
    height, width = float(shape[0]), float(shape[1])
    tokens, boxes = [], []
    for step, idx in enumerate(structure.argmax(-1)):
        if step > 0 and idx == end:
            break
        if idx in (0, end):
            continue
        tokens.append(chars[idx])
        if chars[idx] in TD_TOKENS:
            box = loc[step].astype(np.float64).copy()
            box[0::2] *= width
            box[1::2] *= height
            boxes.append(box)
    return Table(tokens, np.array(boxes).reshape(-1, 8))


def truth_html(image: Path) -> str:
    record = json.loads(image.with_suffix(".json").read_text(encoding="utf-8"))
    return "<html><body><table>" + "".join(record["structure"]) + "</table></body></html>"


def sessions(models: dict[str, Path], threads: int) -> dict:
    from npu_overlay.onnx_export.simplify import ort_session

    return {name: ort_session(Path(path), threads) for name, path in models.items()}


def run_tables(models: dict[str, Path], inputs: dict[str, tuple[np.ndarray, np.ndarray]], chars: list[str],
               threads: int, log=print) -> dict[str, dict[str, Table]]:
    """model -> table -> decoded table."""
    opened = sessions(models, threads)
    found = {name: {} for name in models}
    for i, (table, (batch, shape)) in enumerate(inputs.items()):
        for name, session in opened.items():
            outputs = session.run(None, {session.get_inputs()[0].name: batch})
            found[name][table] = decode(outputs, shape, chars)
        if log and (i + 1) % 25 == 0:
            log(f"decoded {i + 1}/{len(inputs)} tables")
    return found


def box_deviation(table: Table, reference: Table) -> float | None:
    """Largest coordinate difference in pixels; None when the tables have different cells."""
    if table.tokens != reference.tokens or table.boxes.shape != reference.boxes.shape:
        return None
    return float(np.abs(table.boxes - reference.boxes).max()) if table.boxes.size else 0.0


def teds_struct(tree: Path, pairs: dict[str, list[str]], work: Path) -> dict[str, float]:
    """Upstream's TEDS with structure_only, run inside the tree (tools/npu_overlay/pipeline/teds_scores.py)."""
    from npu_overlay.pipeline import PipelineError
    from npu_overlay.pipeline.compare import run_teds

    try:
        # resolved: the script runs with the tree as its working directory and on its path
        return run_teds(Path(tree).resolve(), pairs, work, structure_only=True)
    except PipelineError as exc:
        raise QuantizeError(str(exc)) from None


def latency(models: dict[str, Path], inputs: dict[str, np.ndarray], threads: int, rounds: int,
            warmup: int = 1) -> dict[str, dict[str, float]]:
    """Median ms per (model, table); every round runs every table through every model, the
    model order rotating from one (round, table) to the next."""
    opened = sessions(models, threads)
    names = list(opened)
    for session in opened.values():
        for batch in inputs.values():
            for _ in range(warmup):
                session.run(None, {session.get_inputs()[0].name: batch})
    samples = {n: {t: [] for t in inputs} for n in names}
    turn = 0
    for _ in range(rounds):
        for table, batch in inputs.items():
            order = names[turn % len(names):] + names[:turn % len(names)]
            turn += 1
            for name in order:
                session = opened[name]
                start = time.perf_counter()
                session.run(None, {session.get_inputs()[0].name: batch})
                samples[name][table].append(time.perf_counter() - start)
    return {n: {t: 1000.0 * statistics.median(v) for t, v in per.items()} for n, per in samples.items()}


def cpu_flags() -> dict:
    """This CPU's model name and the instruction-set flags that decide int8 speed."""
    from npu_overlay.bench.report import cpu_model

    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16", "avx512_bf16")
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {"model": cpu_model(), "flags": [f for f in wanted if f in flags],
            "missing": [f for f in wanted if f not in flags], "read_from": "/proc/cpuinfo" if flags else None}
