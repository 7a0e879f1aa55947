"""The int8 report: summary per model and table set, the recommended variant, JSON + markdown + PNG."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from npu_overlay.quantize_int8 import VARIANTS

TEDS_DROP_MAX = 0.005  # the acceptance line: TEDS-struct at most this far below fp32
FP32 = "fp32"


def summarize(per_table: dict, latency_ms: dict[str, dict[str, float]]) -> dict:
    """per_table: set -> table -> model -> {teds, tokens_equal, box_dev}."""
    models = list(latency_ms)
    summary = {}
    for set_name, tables in per_table.items():
        rows = {}
        for model in models:
            teds = [t[model]["teds"] for t in tables.values()]
            devs = [t[model]["box_dev_px"] for t in tables.values() if t[model]["box_dev_px"] is not None]
            rows[model] = {"tables": len(tables), "teds_struct": statistics.fmean(teds),
                           "tokens_differ": sum(not t[model]["tokens_equal"] for t in tables.values()),
                           "box_dev_max_px": max(devs) if devs else None}
        for model in models:
            rows[model]["teds_drop"] = rows[FP32]["teds_struct"] - rows[model]["teds_struct"]
        summary[set_name] = rows
    total = {m: sum(v.values()) for m, v in latency_ms.items()}
    speed = {m: {"median_ms": statistics.median(latency_ms[m].values()), "ratio_to_fp32": total[m] / total[FP32]}
             for m in models}
    passing = [m for m in models if m != FP32
               and all(rows[m]["teds_drop"] <= TEDS_DROP_MAX for rows in summary.values())]
    recommended = min(passing, key=lambda m: speed[m]["ratio_to_fp32"]) if passing else None
    return {"accuracy": summary, "speed": speed, "acceptance": {"teds_drop_max": TEDS_DROP_MAX, "passing": passing},
            "recommended": recommended}


def _f(value, digits=4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]


def render(result: dict) -> str:
    s, env = result["summary"], result["environment"]
    lines = ["# int8 post-training quantization of the table model (SLANet_plus, static ONNX)", "",
             f"Regenerate: `{result['command']}`", ""]
    rec = s["recommended"]
    if rec:
        sp = s["speed"][rec]
        lines += [f"**Recommended: `{rec}`**: TEDS-struct within {s['acceptance']['teds_drop_max']} of fp32 on every "
                  f"table set, {sp['ratio_to_fp32']:.2f}x fp32's onnxruntime CPU time "
                  f"({sp['median_ms']:.0f} ms median per table against {s['speed'][FP32]['median_ms']:.0f} ms).", ""]
    else:
        lines += ["**No int8 variant is recommended**: none stays within "
                  f"{s['acceptance']['teds_drop_max']} TEDS-struct of fp32 on every table set.", ""]
    lines += ["## Accuracy", "TEDS-struct against the rendered truth (upstream's `table_metric`, `structure_only`); "
              "tokens and boxes compared with fp32 as TableLabelDecode reads them; the box deviation is the "
              "largest coordinate difference in pixels over the tables whose tokens equal fp32's.", ""]
    for set_name, rows in s["accuracy"].items():
        lines += [f"### {set_name} ({next(iter(rows.values()))['tables']} tables)", ""]
        lines += _table(["model", "TEDS-struct", "drop vs fp32", "tables with tokens != fp32", "max box deviation (px)"],
                        [[m, _f(r["teds_struct"]), _f(r["teds_drop"]), str(r["tokens_differ"]), _f(r["box_dev_max_px"], 2)]
                         for m, r in rows.items()])
        lines.append("")
    lines += ["## Speed", f"onnxruntime {env['onnxruntime']} CPU provider, {env['threads']} threads, "
              f"{env['rounds']} interleaved rounds over {env['latency_tables']} tables (median per table). "
              f"CPU: {env['cpu']['model']}, {env['cpu']['cores']} cores; instruction set from /proc/cpuinfo: "
              f"{', '.join(env['cpu']['flags']) or 'none of the int8 extensions'}"
              + (f" (absent: {', '.join(env['cpu']['missing'])})" if env['cpu']['missing'] else "") + ".", ""]
    lines += _table(["model", "median ms per table", "time / fp32"],
                    [[m, f"{v['median_ms']:.0f}", f"{v['ratio_to_fp32']:.2f}"] for m, v in s["speed"].items()])
    lines += ["", "## Models", ""]
    lines += _table(["variant", "what", "quantized", "kept fp32", "QuantizeLinear", "DequantizeLinear", "weights"],
                    [[q["variant"], VARIANTS[q["variant"]].about if q["variant"] in VARIANTS else "-",
                      ", ".join(f"{k.split()[0]} {v}" for k, v in q["nodes"].items() if k.endswith("int8")),
                      ", ".join(f"{k.split()[0]} {v}" for k, v in q["nodes"].items() if k.endswith("fp32")) or "-",
                      str(q["qdq"]["QuantizeLinear"]), str(q["qdq"]["DequantizeLinear"]),
                      "; ".join([f"{k} per channel x{v}" for k, v in q["qdq"]["per_channel_weights"].items()]
                                + [f"{k} per tensor x{v}" for k, v in q["qdq"]["per_tensor_weights"].items()])]
                     for q in result["quantized"]])
    split = {q["variant"]: q.get("split_matrices", 0) for q in result["quantized"] if q.get("split_matrices")}
    if split:
        lines += ["", f"Split before quantizing ({', '.join(f'{v}: {n}' for v, n in split.items())} matrices): each "
                  "decoder step's MatMul -> Add -> Split (attention 256, GRU gates 512, GRU candidate 256, step logits "
                  "50 columns) becomes one MatMul -> Add per part, the same fp32 arithmetic; AMCT takes MatMul weights "
                  "per tensor only, and the step logits' columns are about 8x larger than the others', so one scale "
                  "for the fused matrix leaves the GRU's columns few int8 levels."]
    lines += ["", f"Calibration: {result['calibration'].get('method', 'minmax')}, {result['calibration']['tables']} tables rendered with seed "
              f"{result['calibration']['seed']}; evaluation seed {result['evaluation_seed']}; no table seed shared "
              "between calibration and evaluation (checked).", ""]
    if result.get("plot"):
        lines += [f"![TEDS-struct and latency]({Path(result['plot']).name})", ""]
    lines += ["Ascend: the AMCT/ATC commands that take these models, and what was verified here, are in the "
              "README (int8 for Ascend). Paddle-native int8 (upstream's quant_kl.py, PaddleSlim 2.6) under "
              "Paddle 3.0: [int8_paddle.md](int8_paddle.md).", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    s = result["summary"]
    models = list(s["speed"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    width = 0.8 / max(1, len(s["accuracy"]))
    for i, (set_name, rows) in enumerate(s["accuracy"].items()):
        ax1.bar([j + i * width for j in range(len(models))], [rows[m]["teds_struct"] for m in models], width,
                label=set_name)
    ax1.set_xticks([j + width * (len(s["accuracy"]) - 1) / 2 for j in range(len(models))], models)
    low = min(r["teds_struct"] for rows in s["accuracy"].values() for r in rows.values())
    ax1.set_ylim(max(0.0, low - 0.05), 1.0)
    ax1.set_ylabel("TEDS-struct vs truth")
    ax1.legend(fontsize=8)
    ax2.bar(models, [s["speed"][m]["median_ms"] for m in models], color="tab:gray")
    ax2.set_ylabel("median ms per table (onnxruntime CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(out: Path, result: dict) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    png = plot(result, out / "int8.png")
    result["plot"] = str(png) if png else None
    json_path, md_path = out / "int8.json", out / "int8.md"
    json_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(render(result), encoding="utf-8")
    return json_path, md_path
