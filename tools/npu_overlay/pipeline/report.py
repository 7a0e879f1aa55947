"""The regression report, in markdown."""

from __future__ import annotations

from npu_overlay.pipeline.compare import Comparison


def _f(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def render(comparison: Comparison, reference: dict, candidate: dict) -> str:
    ref_meta, cand_meta = reference.get("meta", {}), candidate.get("meta", {})
    verdict = "PASS" if not comparison.regressions else f"FAIL ({len(comparison.regressions)} regression(s))"
    lines = [
        "# Table regression: patched tree against upstream",
        "",
        f"**{verdict}**",
        "",
        "| | reference | candidate |",
        "| --- | --- | --- |",
        f"| device | {ref_meta.get('device', '–')} | {cand_meta.get('device', '–')} |",
        f"| precision | {ref_meta.get('precision', 'fp32')} | {cand_meta.get('precision', 'fp32')} |",
        f"| runtime | {ref_meta.get('runtime', 'paddle-inference')} | {cand_meta.get('runtime', 'paddle-inference')} |",
        f"| export config | {ref_meta.get('export', {}).get('config', '–')} | {cand_meta.get('export', {}).get('config', '–')} |",
        f"| program | {ref_meta.get('export', {}).get('program', '–')} | {cand_meta.get('export', {}).get('program', '–')} |",
        f"| images recorded / failed | {len(reference['images'])} / {len(reference.get('failed', {}))} "
        f"| {len(candidate['images'])} / {len(candidate.get('failed', {}))} |",
        f"| NPU check | {ref_meta.get('npu_check', {}).get('status', '–')} | {cand_meta.get('npu_check', {}).get('status', '–')} |",
        "",
        f"Rules: identical structure tokens; boxes within {comparison.box_tol} px; "
        f"HTML TEDS ≥ {comparison.teds_min}"
        + (f"; table latency ratio ≤ {comparison.max_latency_ratio}" if comparison.max_latency_ratio else "")
        + ". Latency: table model time (pre-processing, inference, post-processing) per image, after warm-up.",
        "",
        "One shot: upstream's `predict_table.py` started as a fresh process on the image alone, start to exit "
        "(imports, det + rec + table predictor creation, first runs): what a user of the script waits.",
        "",
        "| image | tokens | max box Δ px | TEDS | eos step ref/cand | table s ref | table s cand | ratio "
        "| one shot s ref | one shot s cand | problems |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in comparison.images:
        lines.append(
            f"| {r.name} | {'identical' if r.tokens_equal else 'DIFFER'} | {_f(r.box_max_diff, '.3f')} "
            f"| {_f(r.teds, '.4f')} | {_f(r.reference_steps, 'd')}/{_f(r.candidate_steps, 'd')} "
            f"| {_f(r.reference_table_s, '.3f')} | {_f(r.candidate_table_s, '.3f')} | {_f(r.latency_ratio, '.2f')} "
            f"| {_f(r.reference_one_shot_s, '.1f')} | {_f(r.candidate_one_shot_s, '.1f')} "
            f"| {'; '.join(r.problems)} |"
        )
    lines += ["", f"Overall table latency ratio (candidate / reference): {_f(comparison.latency_ratio, '.2f')}", ""]
    failed = {**{f"reference: {k}": v for k, v in reference.get("failed", {}).items()},
              **{f"candidate: {k}": v for k, v in candidate.get("failed", {}).items()}}
    if failed:
        lines += ["## Images that could not be run", ""] + [f"- {k}: {v}" for k, v in failed.items()] + [""]
    return "\n".join(lines)
