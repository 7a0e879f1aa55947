"""Render table images whose HTML structure is known, for testing table-structure models.

Each table is a PNG plus a JSON sidecar holding the ground truth: the structure tokens in
PubTabNet style (the vocabulary of upstream's ``table_structure_dict_ch.txt``), the same tokens
with empty-span cells merged into ``<td></td>`` (what SLANet's decoder emits), the HTML with
cell text, and every cell's box in image pixels. Rendering is deterministic given a seed.

    python -m npu_overlay.render_tables --out DIR --count N --seed S     # random tables
    python -m npu_overlay.render_tables --samples tests/data/tables      # the fixed test samples
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from npu_overlay.cli import ToolError, exit_on_missing, run_command

with exit_on_missing("render_tables", __name__):
    from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"]
CJK_FONT_HINTS = ("cjk", "wqy", "simfang", "simsun", "simhei", "notosanssc", "droidsansfallback")
STYLES = ("grid", "horizontal", "borderless")

WORDS = (
    "total revenue cost margin region north south east west product price units sales year quarter "
    "growth share name type status active closed pending item amount rate net gross tax budget plan "
    "actual forecast target score rank group sample mean median count value index level stage phase "
    "method result model train test error loss ratio weight height width depth area volume"
).split()
CJK_WORDS = "营业收入 成本 利润 地区 产品 价格 数量 销售 年度 季度 增长 名称 类型 状态 合计 备注".split()


@dataclass
class TableSpec:
    rows: int
    cols: int
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # (row, col, rowspan, colspan)
    style: str = "grid"  # grid | horizontal | borderless
    header_rows: int = 0  # leading rows that go into <thead>
    font_size: int = 16
    pad_x: int = 8
    pad_y: int = 6
    margin: int = 12
    font: str | None = None  # a font file name (DejaVuSans.ttf); used where it is installed
    font_index: int = 0  # otherwise: index into the sorted list of available fonts
    cjk: bool = False  # use CJK words where a CJK font exists
    empty_rate: float = 0.08  # share of body cells left without text
    seed: int = 0

    def validate(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"a table needs at least one row and column, got {self.rows}x{self.cols}")
        if self.style not in STYLES:
            raise ValueError(f"style {self.style!r} is not one of {', '.join(STYLES)}")
        if not 0 <= self.header_rows <= self.rows:
            raise ValueError(f"header_rows {self.header_rows} outside 0..{self.rows}")
        covered: set[tuple[int, int]] = set()
        for r, c, rs, cs in self.merges:
            if rs < 1 or cs < 1 or r < 0 or c < 0 or r + rs > self.rows or c + cs > self.cols:
                raise ValueError(f"merge {(r, c, rs, cs)} does not fit a {self.rows}x{self.cols} grid")
            if rs * cs == 1:
                raise ValueError(f"merge {(r, c, rs, cs)} spans a single cell")
            if r < self.header_rows < r + rs:
                raise ValueError(f"merge {(r, c, rs, cs)} crosses the header's end")
            span = {(r + i, c + j) for i in range(rs) for j in range(cs)}
            if span & covered:
                raise ValueError(f"merge {(r, c, rs, cs)} overlaps another merge")
            covered |= span


@dataclass
class Cell:
    row: int
    col: int
    rowspan: int
    colspan: int
    text: str
    bbox: list[int] = field(default_factory=list)  # x0, y0, x1, y1 of the cell in pixels


# ---- fonts --------------------------------------------------------------------------------


def available_fonts() -> list[Path]:
    """TrueType/OpenType fonts on this machine, sorted so an index means the same font every run."""
    fonts = {p for d in FONT_DIRS if d.is_dir() for ext in ("*.ttf", "*.otf", "*.ttc") for p in d.rglob(ext)}
    # math and symbol fonts render words as glyph soup
    return sorted(p for p in fonts if "math" not in p.name.lower() and "symbol" not in p.name.lower())


def cjk_font() -> Path | None:
    for path in available_fonts():
        if any(hint in path.name.lower() for hint in CJK_FONT_HINTS):
            return path
    return None


def load_font(spec: TableSpec) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, str]:
    """The spec's font and a name for the sidecar (file name only; machine paths stay out)."""
    path = cjk_font() if spec.cjk else None
    if path is None:
        fonts = available_fonts()
        named = [p for p in fonts if p.name == spec.font]
        path = named[0] if named else fonts[spec.font_index % len(fonts)] if fonts else None
    if path is None:
        print("note: no TrueType font found; using Pillow's built-in font", file=sys.stderr)
        return ImageFont.load_default(spec.font_size), "pillow-default"
    # BASIC layout: the same glyph positions whether or not libraqm is installed
    return ImageFont.truetype(str(path), spec.font_size, layout_engine=ImageFont.Layout.BASIC), path.name


# ---- content and layout -------------------------------------------------------------------


def _cells(spec: TableSpec) -> list[Cell]:
    """One cell per grid position not swallowed by a merge, in HTML (row-major) order."""
    origin = {(r, c): (rs, cs) for r, c, rs, cs in spec.merges}
    hidden = {(r + i, c + j) for r, c, rs, cs in spec.merges for i in range(rs) for j in range(cs)} - set(origin)
    return [
        Cell(r, c, *origin.get((r, c), (1, 1)), text="")
        for r in range(spec.rows)
        for c in range(spec.cols)
        if (r, c) not in hidden
    ]


@functools.lru_cache(maxsize=None)
def _note_no_cjk_font() -> None:
    print("note: no CJK font found; tables asking for CJK text get Latin words", file=sys.stderr)


def _fill_text(cells: list[Cell], spec: TableSpec, rng: random.Random) -> None:
    use_cjk = spec.cjk and cjk_font() is not None
    if spec.cjk and not use_cjk:
        _note_no_cjk_font()
    words = CJK_WORDS if use_cjk else WORDS
    # a column keeps one kind of content, as real tables do
    kinds = [rng.choice(("word", "int", "decimal", "percent", "words")) for _ in range(spec.cols)]
    kinds[0] = "words"
    for cell in cells:
        if cell.row < spec.header_rows:
            cell.text = rng.choice(words).title() if not use_cjk else rng.choice(words)
            continue
        if rng.random() < spec.empty_rate:
            continue
        kind = kinds[cell.col]
        if kind == "word":
            cell.text = rng.choice(words)
        elif kind == "words":
            cell.text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 2)))
        elif kind == "int":
            cell.text = f"{rng.randint(0, 99999):,}"
        elif kind == "decimal":
            cell.text = f"{rng.uniform(0, 1000):.2f}"
        else:
            cell.text = f"{rng.uniform(-50, 50):.1f}%"


def _layout(cells: list[Cell], spec: TableSpec, font) -> tuple[list[int], list[int]]:
    """Column x-edges and row y-edges wide enough for every cell's text."""
    def text_w(text: str) -> int:
        return int(font.getlength(text)) if text else 0

    line_h = int(sum(font.getmetrics())) if hasattr(font, "getmetrics") else spec.font_size
    widths = [2 * spec.pad_x + spec.font_size] * spec.cols
    for cell in cells:
        if cell.colspan == 1:
            widths[cell.col] = max(widths[cell.col], text_w(cell.text) + 2 * spec.pad_x)
    for cell in cells:  # a spanning cell widens its last column if its text does not fit
        if cell.colspan > 1:
            have = sum(widths[cell.col:cell.col + cell.colspan])
            need = text_w(cell.text) + 2 * spec.pad_x
            widths[cell.col + cell.colspan - 1] += max(0, need - have)
    heights = [line_h + 2 * spec.pad_y] * spec.rows
    xs, ys = [spec.margin], [spec.margin]
    for w in widths:
        xs.append(xs[-1] + w)
    for h in heights:
        ys.append(ys[-1] + h)
    return xs, ys


# ---- ground truth -------------------------------------------------------------------------


def structure_tokens(cells: list[Cell], spec: TableSpec, merge_empty_span: bool = False) -> list[str]:
    """PubTabNet-style structure tokens; with merge_empty_span, ``<td>`` ``</td>`` become ``<td></td>``."""
    tokens: list[str] = []
    sections = [("<thead>", "</thead>", range(0, spec.header_rows)),
                ("<tbody>", "</tbody>", range(spec.header_rows, spec.rows))]
    for open_tag, close_tag, rows in sections:
        if not rows:
            continue
        tokens.append(open_tag)
        for r in rows:
            tokens.append("<tr>")
            for cell in (c for c in cells if c.row == r):
                if cell.rowspan == 1 and cell.colspan == 1:
                    tokens += ["<td></td>"] if merge_empty_span else ["<td>", "</td>"]
                    continue
                tokens.append("<td")
                if cell.colspan > 1:
                    tokens.append(f' colspan="{cell.colspan}"')
                if cell.rowspan > 1:
                    tokens.append(f' rowspan="{cell.rowspan}"')
                tokens += [">", "</td>"]
            tokens.append("</tr>")
        tokens.append(close_tag)
    return tokens


def table_html(cells: list[Cell], spec: TableSpec) -> str:
    parts, texts = [], iter(cells)
    for token in structure_tokens(cells, spec):
        parts.append(token)
        if token in ("<td>", ">"):  # the cell's content follows its opening tag
            parts.append(html.escape(next(texts).text))
    return "<table>" + "".join(parts) + "</table>"


# ---- drawing ------------------------------------------------------------------------------


def render(spec: TableSpec) -> tuple[Image.Image, dict]:
    """The table image and its ground-truth record."""
    spec.validate()
    rng = random.Random(spec.seed)
    font, font_name = load_font(spec)
    cells = _cells(spec)
    _fill_text(cells, spec, rng)
    xs, ys = _layout(cells, spec, font)
    width, height = xs[-1] + spec.margin, ys[-1] + spec.margin
    # grayscale: what most scanned tables are, and a third of an RGB PNG's size
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    line = 40
    for cell in cells:
        x0, y0 = xs[cell.col], ys[cell.row]
        x1, y1 = xs[cell.col + cell.colspan], ys[cell.row + cell.rowspan]
        cell.bbox = [x0, y0, x1, y1]
        if cell.row < spec.header_rows and spec.style != "borderless":
            draw.rectangle([x0, y0, x1, y1], fill=228)
        if spec.style == "grid":
            draw.rectangle([x0, y0, x1, y1], outline=line, width=1)
        elif spec.style == "horizontal":
            draw.line([x0, y0, x1, y0], fill=line, width=1)
            draw.line([x0, y1, x1, y1], fill=line, width=1)
        if cell.text:
            tw = font.getlength(cell.text)
            # numbers right-aligned, words left-aligned, header and spanning cells centred
            if cell.row < spec.header_rows or cell.colspan > 1:
                tx = (x0 + x1 - tw) / 2
            elif cell.text[-1].isdigit() or cell.text.endswith("%"):
                tx = x1 - spec.pad_x - tw
            else:
                tx = x0 + spec.pad_x
            draw.text((tx, (y0 + y1) / 2), cell.text, fill=0, font=font, anchor="lm")
    record = {
        "width": width,
        "height": height,
        "font": font_name,
        "spec": asdict(spec),
        "structure": structure_tokens(cells, spec),
        "structure_merged": structure_tokens(cells, spec, merge_empty_span=True),
        "html": table_html(cells, spec),
        "cells": [asdict(c) for c in cells],
    }
    return image, record


def write(spec: TableSpec, out_dir: Path, name: str) -> Path:
    image, record = render(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    image.save(png, optimize=True)
    record["image"] = png.name
    (out_dir / f"{name}.json").write_text(_format_record(record), encoding="utf-8")
    return png


def _format_record(record: dict) -> str:
    """JSON with one line per field and per cell: short, and readable next to the image."""
    lines = []
    for key, value in record.items():
        if key == "cells":
            cells = ",\n".join(f"  {json.dumps(c, ensure_ascii=False)}" for c in value)
            lines.append(f' "cells": [\n{cells}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# ---- spec sources: random tables and the fixed test samples -------------------------------


def random_spec(rng: random.Random) -> TableSpec:
    rows, cols = rng.randint(2, 16), rng.randint(2, 8)
    header = rng.choice((0, 1, 1))
    merges: list[tuple[int, int, int, int]] = []
    for _ in range(rng.randint(0, 3)):
        r, c = rng.randrange(rows), rng.randrange(cols)
        rs, cs = rng.choice(((1, 2), (2, 1), (1, 3), (2, 2)))
        candidate = TableSpec(rows, cols, merges + [(r, c, rs, cs)], header_rows=header)
        try:
            candidate.validate()
            merges.append((r, c, rs, cs))
        except ValueError:
            pass  # did not fit; a table with fewer merges is just as good
    size = rng.randint(11, 28)
    return TableSpec(rows, cols, merges, style=rng.choice(STYLES), header_rows=header, font_size=size,
                     pad_x=rng.randint(4, 14), pad_y=rng.randint(3, 10), font_index=rng.randrange(1000),
                     cjk=rng.random() < 0.3, seed=rng.randrange(2**31))


# The fixed samples in tests/data/tables: small, and spanning short to long decodes.
SAMPLES: dict[str, TableSpec] = {
    "grid_5x4": TableSpec(5, 4, seed=1, font="DejaVuSans.ttf"),
    "grid_12x6": TableSpec(12, 6, seed=2, font_size=15, header_rows=1, font="DejaVuSerif.ttf"),
    "merged_8x5": TableSpec(8, 5, merges=[(0, 1, 1, 2), (0, 3, 1, 2), (1, 0, 3, 1), (5, 2, 2, 2)],
                            header_rows=1, seed=3, font="DejaVuSans.ttf"),
    "borderless_7x4": TableSpec(7, 4, style="borderless", seed=4, font_size=17, pad_x=14,
                                font="DejaVuSansCondensed.ttf"),
    "header_horizontal_9x5": TableSpec(9, 5, style="horizontal", header_rows=1, seed=5, font="DejaVuSerif.ttf"),
    "small_6x3": TableSpec(6, 3, seed=6, font_size=15, pad_x=16, pad_y=7, margin=8, font="DejaVuSans.ttf"),
    "large_22x9": TableSpec(22, 9, header_rows=1, seed=7, font_size=17, pad_x=9, pad_y=7,
                            font="DejaVuSansMono.ttf"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder for random tables")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=Path, metavar="DIR", help="write the fixed test samples to DIR instead")
    args = parser.parse_args(argv)
    if args.samples is None and args.out is None:
        parser.error("give --out DIR (random tables) or --samples DIR (the fixed samples)")
    if args.count < 0:
        parser.error("--count must not be negative")
    def render():
        if args.samples is not None:
            for name, spec in SAMPLES.items():
                print(write(spec, args.samples, name))
        else:
            rng = random.Random(args.seed)
            for i in range(args.count):
                print(write(random_spec(rng), args.out, f"table_{args.seed}_{i:04d}"))

    return run_command("render_tables", render, handled=(ToolError, OSError))


if __name__ == "__main__":
    sys.exit(main())
