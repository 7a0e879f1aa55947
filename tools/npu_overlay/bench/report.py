"""bench.json (everything, machine readable) and report.md (the short readable version)."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

from npu_overlay.bench.models import FEATURES, REFERENCE

PLOT = "latency.png"  # written next to report.md, which shows it


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(threads: int, repeats: int, warmup: int, predictor: dict) -> dict:
    import paddle

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "paddle": paddle.__version__, "python": platform.python_version(), "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "threads": threads, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "repeats": repeats, "warmup_runs_per_image": warmup, "predictor": predictor,
            "load_average_before": load_average()}


def _ms(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def _ratio(value) -> str:
    return "–" if value is None else f"{value:.2f}×"


def render(result: dict) -> str:
    env, analysis = result["environment"], result["analysis"]
    rows, fits, speedup = analysis["per_image"], analysis["fits"], analysis["speedup_vs_upstream"]
    images = result["images"]
    tables = [m["name"] for m in result["models"] if m["name"] != FEATURES]
    lines = ["# Table head decode benchmark (CPU, Paddle Inference)", "",
             f"{env['date']} · Paddle {env['paddle']} · {env['cpu']} ({env['cpu_count']} cores) · "
             f"{env['threads']} threads · oneDNN off{' (but for the precision rows)' if analysis.get('precisions') else ''} · {env['repeats']} interleaved rounds after "
             f"{env['warmup_runs_per_image']} warm-up runs per image · median per (model, image) · "
             f"load average before/after {env['load_average_before']} / {env.get('load_average_after')}", "",
             "End to end = input copy + `predictor.run()` + output copy for one image padded to 488×488 "
             "(pre-processing excluded, identical for every model).", "", "## Models", ""]
    lines += [f"- `{m['name']}`: {m['made_by']}" for m in result["models"]]
    lines += [f"- note: {n}" for n in result["notes"]]

    lines += ["", "## Correctness", ""]
    mismatches = analysis["token_mismatches"]
    foreign = [m["name"] for m in result["models"] if m["kind"] == "foreign"]
    reduced = [m["name"] for m in result["models"] if m["kind"] == "precision"]
    compared = [n for n in tables if n != REFERENCE and n not in foreign and n not in reduced]
    if mismatches:
        lines.append(f"**WRONG: {len(mismatches)} (model, image) pairs decode other tokens than `upstream`; "
                     "their timings compare different work.**")
        lines += [f"- `{x['model']}` on {x['image']}: {x['sequence_steps']} tokens, upstream {x['upstream_sequence_steps']}"
                  for x in mismatches]
    elif compared:
        worst = max((rows[n][i]["max_abs_diff_structure"] for n in compared for i in images), default=0.0)
        worst_loc = max((rows[n][i]["max_abs_diff_loc"] for n in compared for i in images), default=0.0)
        lines.append(f"Every model decodes exactly `upstream`'s tokens on every image ({', '.join(compared)}); "
                     f"largest difference over the table: probabilities {worst:.1e}, boxes {worst_loc:.1e}.")
    else:
        lines.append("No other model of upstream's precision was run: nothing to compare exactly.")
    if foreign:
        lines.append(f"Not compared for tokens (other weights and vocabulary, timed for their costs): "
                     f"{', '.join(f'`{n}`' for n in foreign)}.")

    lines += _precision_section(analysis.get("precisions") or {})
    lines += _cold_start_section(result)

    lines += ["", "## End to end per image (ms, speedup vs `upstream`)", "", f"![ms per table against decode steps]({PLOT})", ""]
    head = ["image", "tokens", "backbone"] + [f"`{n}`" for n in tables]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i in images:
        cells = [i, str(rows[REFERENCE][i]["sequence_steps"]),
                 _ms(rows[FEATURES][i]["median_ms"]) if FEATURES in rows else "–"]
        for n in tables:
            r = rows[n][i]
            cell = f"{r['median_ms']:.1f} ({r['steps_run']} st)"
            if n != REFERENCE:
                cell += f" {speedup[n][i]:.2f}×"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "(st = decode steps the model ran: its output length.)"]

    lines += ["", "## Decode cost per step", "", f"Backbone + neck (`features`): {_ms(analysis['backbone_ms'])} ms.", "",
              "| model | per-step ms | vs `upstream` | intercept ms | r² | exported ops/step | µs/op | how | per-step ms from minima |",
              "|---|---|---|---|---|---|---|---|---|"]
    for n in tables:
        f = fits[n]
        ops = "–" if f.get("exported_ops_per_step") is None else f"{f['exported_ops_per_step']:.1f}"
        per_op = "–" if f.get("us_per_op") is None else f"{f['us_per_op']:.0f}"
        low = "–" if f.get("per_step_ms_from_minima") is None else f"{f['per_step_ms_from_minima']:.3f}"
        lines.append(f"| `{n}` | {f['per_step_ms']:.3f} | {_ratio(f['per_step_ratio_vs_upstream'])} lower | "
                     f"{_ms(f.get('intercept_ms'))} | {'–' if f.get('r2') is None else format(f['r2'], '.3f')} | "
                     f"{ops} | {per_op} | {f['method']} | {low} |"
                     if f["per_step_ms"] is not None else f"| `{n}` | – | – | – | – | {ops} | – | {f['method']} | {low} |")
    lines += ["", "Exported ops/step: kernel ops of the decode loop's body per step as exported (before Paddle "
              "Inference's passes); for `fixed`, the head's ops over 501 steps. µs/op = per-step cost / ops. "
              "From minima: the same derivation on each image's fastest run, a check on interference from other jobs."]

    lines += ["", "## Targets", ""]
    for t in analysis["targets"]:
        lines.append(f"- **{t['status'].upper()}**: {t['text']}")
        for c in t["checks"]:
            if t["id"] == "per_step":
                detail = f"{c['per_step_ms']:.3f} ms vs {c['upstream_per_step_ms']:.3f} ms: {c['ratio']:.2f}× lower"
            elif t["id"] == "best_path_end_to_end":
                detail = (f"median {c['median_speedup']:.2f}× over {c['images']} images "
                          f"(min {c['min_speedup']:.2f}×)")
            elif t["id"] == "npu_config_cold_start":
                detail = (f"{c['create_s']:.2f} s creation + {c['first_run_s']:.2f} s first run = "
                          f"{c['cold_s']:.2f} s")
            elif t["id"] == "early_stop_end_to_end":
                detail = (f"over {c['images']} images: min {c['min_speedup']:.2f}× ({c['min_speedup_image']}), "
                          f"median {c['median_speedup']:.2f}×")
            else:
                detail = (f"{c['fixed_ms']:.1f} ms vs upstream {c['upstream_ms_at_100_steps_fit']:.1f} ms at 100 steps "
                          f"(nearest image {c['nearest_image']}, {c['nearest_image_steps']} steps: "
                          f"{c['nearest_image_fixed_ms']:.1f} vs {c['nearest_image_upstream_ms']:.1f} ms)")
            lines.append(f"  - `{c['model']}` {'pass' if c['pass'] else 'FAIL'}: {detail}")
    return "\n".join(lines) + "\n"


def _s(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _precision_section(precisions: dict) -> list[str]:
    if not precisions:
        return []
    lines = ["", "## Precisions (oneDNN bf16 and fp32; int8 on onnxruntime)", "",
             "Same run; tokens compared with `upstream`'s fp32 tables. How close fp16 and bf16 come on 107 tables, "
             "emulated fp16 included, and which black-list entries matter: [docs/amp.md](../amp.md); int8's "
             "accuracy on 200 rendered tables: [docs/int8.md](../int8.md).", "",
             "| model | tables with `upstream`'s tokens | largest box difference (fraction of the image) | "
             "end to end vs `upstream` (median) |", "|---|---|---|---|"]
    for name, p in precisions.items():
        loc = "–" if p["max_abs_diff_loc"] is None else f"{p['max_abs_diff_loc']:.1e}"
        lines.append(f"| `{name}` | {p['identical_tokens']}/{p['tables']} | {loc} | {p['median_speedup']:.2f}× |")
    return lines


def _cold_start_section(result: dict) -> list[str]:
    cold, env = result["analysis"].get("cold_start") or {}, result["environment"]
    if not cold:
        return []
    rows = result["analysis"]["per_image"]
    lines = ["", "## Cold start: a fresh process to its first table", "",
             f"Each model in {env.get('cold_rounds')} fresh process(es), models interleaved, on "
             f"{env.get('cold_start_image')}; medians. Creation = `create_predictor` (Paddle Inference loads "
             "and optimises the program); first run = the executor's one-time set-up plus one table; steady = "
             "the median of 3 more runs in the same process. Warm = the interleaved in-process median over every "
             "image (below). Creation includes importing the runtime (Paddle Inference, about 0.9 s here, or onnxruntime), as a user's fresh process pays it; the interpreter's start and the image's pre-processing are not included.", "",
             "| model | export s | creation s | first run s | creation + first run s | steady s | warm median ms |",
             "|---|---|---|---|---|---|---|"]
    for model in result["models"]:
        c = cold.get(model["name"])
        if not c:
            continue
        warm = [r["median_ms"] for r in rows.get(model["name"], {}).values()]
        lines.append(f"| `{model['name']}` | {_s(model.get('export_s'))} | {_s(c['create_s'])} | "
                     f"{_s(c['first_run_s'])} | {_s(c['cold_s'])} | {_s(c['steady_s'])} | "
                     f"{_ms(sorted(warm)[len(warm) // 2]) if warm else '–'} |")
    return lines


def write(out: Path, result: dict) -> tuple[Path, Path]:
    from npu_overlay.bench.plot import plot_latency

    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "bench.json", out / "report.md"
    json_path.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    plot_latency(result, out / PLOT)
    md_path.write_text(render(result), encoding="utf-8")
    return json_path, md_path
