"""The drop-in comparison's verdicts (checks) and its markdown report."""

from __future__ import annotations

from collections import Counter


def _check(ok: bool, detail: str) -> dict:
    return {"ok": bool(ok), "detail": detail}


def _same_tables(up: dict, ours: dict) -> tuple[bool, str]:
    differ = [name for name in up if up[name] != ours.get(name)]
    cells = sum(len(t["cell_bbox"]) for tables in up.values() for t in tables)
    return not differ and up.keys() == ours.keys(), (
        f"{len(up)} images, {cells} cells: " + ("HTML and cell boxes identical" if not differ
                                                else "differ on " + ", ".join(differ)))


def max_box_shift(a: list, b: list) -> float:
    if len(a) != len(b):
        return float("inf")
    return max((abs(x - y) for p, q in zip(a, b) for x, y in zip(p, q)), default=0.0)


def _static(up: dict, static: dict) -> tuple[bool, str]:
    """Our static export against upstream's dynamic model: same HTML (tokens and matched text)."""
    differ = [n for n in up if [t["html"] for t in up[n]] != [t["html"] for t in static.get(n, [])]]
    shift = max((max_box_shift(a["cell_bbox"], b["cell_bbox"]) for n in up for a, b in zip(up[n], static.get(n, []))),
                default=0.0)
    return not differ, (f"HTML identical on {len(up) - len(differ)}/{len(up)} images; "
                        f"cell boxes within {shift:.3f} px of upstream's")


def checks(result: dict) -> dict:
    up, ours = result["upstream"], result["ours"]
    found = {}
    found["tables_api"] = _check(*_same_tables(up["tables"], ours["tables"]))
    found["tables_cli"] = _check(*_same_tables(up["cli_tables"], ours["cli_tables"]))
    missing = {mod: sorted(set(names) - set(ours["names"][mod])) for mod, names in up["names"].items()}
    # upstream's 2.8.1 names two functions in __all__ that it does not define: anything of ours will do there
    changed = sorted(k for k, v in up["signatures"].items() if v != "(not defined)" and ours["signatures"].get(k) != v)
    found["api_superset"] = _check(
        not any(missing.values()) and not changed,
        f"missing names: {sum(map(len, missing.values()))}, changed signatures: {', '.join(changed) or 'none'}",
    )
    lost = sorted(set(up["flags"]) - set(ours["flags"]))
    moved = sorted(k for k in up["flags"] if k in ours["flags"] and ours["flags"][k] != up["flags"][k])
    found["cli_flags_superset"] = _check(not lost and not moved,
                                         f"missing flags: {', '.join(lost) or 'none'}; "
                                         f"changed defaults: {', '.join(moved) or 'none'}")
    bad = [f"{r['path']} ({r['cause']})" for r in result["files"] if r["cause"] in ("MISSING", "UNTRACED")]
    found["files_traced"] = _check(not bad, "every upstream file present, every difference traced"
                                   if not bad else "; ".join(bad))
    over = result["install_over"]
    found["install_over_upstream"] = _check(
        over["version_after_install"] == ours["version"] and not over["files_not_from_our_wheel"]
        and not over["our_files_not_installed"],
        f"paddleocr {over['version_after_install']} installed over {up['version']}; files not from our wheel: "
        f"{len(over['files_not_from_our_wheel'])}",
    )
    found["uninstall_leaves_nothing"] = _check(not over["left_after_uninstall"],
                                               "left: " + (", ".join(over["left_after_uninstall"]) or "nothing"))
    if ours.get("static_tables"):
        found["static_export_html"] = _check(*_static(up["tables"], ours["static_tables"]))
    record = ours.get("npu_overlay") or {}
    found["overlay_record"] = _check(record.get("upstream") and record.get("series") and up.get("npu_overlay") is None,
                                     f"upstream {record.get('upstream')}, series {record.get('series')}")
    return found


def _table(head: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]


def markdown(result: dict, command: str) -> str:
    up, ours = result["upstream"], result["ours"]
    lines = [
        "# Drop-in `paddleocr`: our wheel against upstream's published package",
        "",
        f"Regenerate (after `python apply.py && python apply.py --wheel`): `{command}`",
        "",
        f"Upstream: `{result['upstream_wheel']}` (package registry); ours: `{result['our_wheel']}` "
        f"(overlay record: upstream `{(ours.get('npu_overlay') or {}).get('upstream')}`, "
        f"series sha256 `{(ours.get('npu_overlay') or {}).get('series')}`). Each installed with `{result['paddle']}` "
        f"and {', '.join(result['cli_extras'])} (the structure CLI's Excel export needs them; upstream's wheel does "
        "not declare them) in a fresh virtual environment; nothing of this repository or of a source tree on "
        "`sys.path`.",
        f"Models: PP-OCRv4 det/rec and SLANet_plus (local directories), on {len(result['images'])} sample tables "
        "(`PPStructure(layout=False, ...)` and `paddleocr --type structure --layout false ...`, CPU).",
        "",
        "## Checks",
        "",
    ]
    lines += _table(["check", "holds", "detail"],
                    [[name, "yes" if c["ok"] else "**NO**", c["detail"]] for name, c in result["checks"].items()])
    lines += ["", "## Tables per image", "", "Cell boxes are compared as the probe records them: rounded to 0.001 px.", ""]
    rows, static = [], ours.get("static_tables")
    for image in result["images"]:
        a, b = up["tables"].get(image, []), ours["tables"].get(image, [])
        row = [image, sum(len(t["cell_bbox"]) for t in a), "identical" if a == b else "differs",
               "identical" if up["cli_tables"].get(image) == ours["cli_tables"].get(image) else "differs"]
        if static:
            s = static.get(image, [])
            row += ["identical" if [t["html"] for t in a] == [t["html"] for t in s] else "differs",
                    f"{max((max_box_shift(x['cell_bbox'], y['cell_bbox']) for x, y in zip(a, s)), default=0.0):.3f}"]
        rows.append(row)
    head = ["image", "cells", "API: HTML + cell boxes", "CLI: HTML + cell boxes"]
    head += ["static export: HTML", "static export: max box shift (px)"] if static else []
    lines += _table(head, rows)
    if static:
        lines += ["", f"Static export: ours with `table_model_dir` = the overlay's fixed-decode export of the same "
                      f"SLANet_plus weights (`{result['static_table_model_dir']}`, exported as in the README), "
                      "against upstream's package with PaddleX's dynamic export."]
    extra_names = {m: sorted(set(ours["names"][m]) - set(up["names"][m])) for m in up["names"]}
    extra_flags = sorted(set(ours["flags"]) - set(up["flags"]))
    lines += ["", "## Public API", "",
              "Upstream's module-level names all present with the same signatures. Added names: "
              + "; ".join(f"`{m}`: {', '.join(v) or 'none'}" for m, v in extra_names.items()) + ".",
              f"CLI flags: all {len(up['flags'])} of upstream's with the same defaults; added: "
              + (", ".join(f"`--{f}`" for f in extra_flags) or "none") + "."]
    counts = Counter((r["status"], r["cause"]) for r in result["files"])
    lines += ["", "## Files", "",
              f"{len(result['files'])} files compared (RECORD left out). Same bytes: {counts[('same', '')]}.", ""]
    lines += _table(["file", "status", "cause"], [[f"`{r['path']}`", r["status"], r["cause"]]
                                                 for r in result["files"] if r["status"] != "same"])
    over = result["install_over"]
    lines += ["", "## Install over upstream, uninstall", "",
              f"`pip install --no-deps {result['our_wheel']}` in upstream's environment: paddleocr "
              f"{over['version_after_install']}; installed files not from our wheel: "
              f"{len(over['files_not_from_our_wheel'])}; our files not installed: {len(over['our_files_not_installed'])}. "
              f"`pip uninstall -y paddleocr` left: {', '.join(over['left_after_uninstall']) or 'nothing'}.", ""]
    return "\n".join(lines)
