"""Run inside a virtual environment that has a `paddleocr` package installed (python -I probe.py SPEC OUT).

Only the standard library, numpy and the installed package are imported: nothing of this
repository or of a source tree is on sys.path (-I leaves the script's folder out). Writes, as
JSON: the package's version and overlay record, its public API (module-level names,
signatures, the CLI flags with their defaults), and for each image the tables PPStructure
reads (HTML and cell boxes), and with a second table model when the spec names one.
"""

import inspect
import json
import sys
from pathlib import Path


def public_names(module):
    """Module-level names without a leading underscore, imported modules left out (not API).

    vars, not dir: paddleocr.py's module-level __dir__ is a path string, which breaks dir().
    """
    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and not inspect.ismodule(v))


def signatures(paddleocr):
    found = {}
    for name in paddleocr.__all__:
        obj = getattr(paddleocr, name, None)  # 2.8.1's __all__ names sorted_layout_boxes, which it lacks
        found[name] = str(inspect.signature(obj)) if callable(obj) else "(not defined)"
    for cls in (paddleocr.PaddleOCR, paddleocr.PPStructure):
        for method in ("__init__", "__call__", "ocr"):
            if method in vars(cls):
                found[f"{cls.__name__}.{method}"] = str(inspect.signature(getattr(cls, method)))
    return found


def tables(engine, image):
    import numpy as np

    regions = engine(image)
    return [
        {"html": r["res"]["html"], "cell_bbox": np.asarray(r["res"]["cell_bbox"]).round(3).tolist()}
        for r in regions
        if r["type"] == "table"
    ]


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    import paddleocr
    from paddleocr import paddleocr as entry

    out = {
        "version": paddleocr.__version__,
        "npu_overlay": getattr(paddleocr, "__npu_overlay__", None),
        "location": str(Path(paddleocr.__file__).parent),
        "names": {"paddleocr": public_names(paddleocr), "paddleocr.paddleocr": public_names(entry)},
        "signatures": signatures(paddleocr),
        "flags": {k: repr(v) for k, v in sorted(vars(entry.parse_args(mMain=False)).items())},
    }
    engine = paddleocr.PPStructure(**spec["kwargs"])
    out["tables"] = {Path(image).name: tables(engine, image) for image in spec["images"]}
    if spec.get("static_kwargs"):  # the same images with a static export as the table model
        engine = paddleocr.PPStructure(**spec["static_kwargs"])
        out["static_tables"] = {Path(image).name: tables(engine, image) for image in spec["images"]}
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
