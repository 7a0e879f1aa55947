"""Run upstream's table system on a list of images and record every result as JSON.

This module runs against an upstream PaddleOCR tree (``npu_overlay.pipeline.tree.run_module_in_tree``:
cwd = the tree, the tree first on sys.path).
It uses upstream's own pieces: ``ppstructure.utility.parse_args`` (so every upstream flag,
``--device``/``--use_npu`` included, passes through untouched), ``TableSystem`` from
``ppstructure/table/predict_table.py`` (det + rec + table + matcher: the full HTML with
text), whose table model is ``TableStructurer`` from ``predict_structure.py``.

    cd TREE && PYTHONPATH=. python -m npu_overlay.pipeline.record_tables --image_list FILE --record_json OUT [upstream flags]

Per image it records the structure tokens, cell boxes, HTML, upstream's timings and the
decode step counts; an image that fails is recorded with its error and the run goes on.
"""

import argparse
import json
import os
import sys
import time
import traceback


def _own_args(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--image_list", required=True)
    parser.add_argument("--record_json", required=True)
    parser.add_argument("--warmup", type=int, default=1)
    return parser.parse_known_args(argv)


class StepCounter:
    """Wraps the table post-processing to read the decoder's raw output per image."""

    def __init__(self, postprocess_op):
        self.op = postprocess_op
        self.end_idx = postprocess_op.dict[postprocess_op.end_str]
        self.last = None

    def __call__(self, preds, batch=None):
        import numpy as np

        probs = np.asarray(preds["structure_probs"])
        ids = probs[0].argmax(axis=-1)
        # TableLabelDecode ignores end-of-sequence at position 0, so the table ends at the
        # first one after it
        eos = np.nonzero(ids[1:] == self.end_idx)[0]
        self.last = {
            # steps the model ran: its output length (upstream stops one step after eos)
            "decode_steps": int(probs.shape[1]),
            # the step that produced eos (1-based), the same whatever the decode mode
            "eos_step": int(eos[0]) + 2 if eos.size else None,
        }
        return self.op(preds, batch)


def _record_one(table_sys, counter, path):
    import cv2
    from ppocr.utils.utility import check_and_read

    img, flag, _ = check_and_read(path)
    if not flag:
        img = cv2.imread(path)
    if img is None:
        raise ValueError("cannot decode the image")
    captured = {}
    structure = table_sys._structure

    def capture(image):
        res, elapse = structure(image)
        captured["tokens"], captured["boxes"] = res[0], res[1].tolist()
        return res, elapse

    table_sys._structure = capture
    try:
        start = time.perf_counter()
        result, times = table_sys(img)
        wall = time.perf_counter() - start
    finally:
        table_sys._structure = structure
    return {
        "tokens": captured["tokens"],
        "boxes": captured["boxes"],
        "html": result["html"],
        "timings": dict({k: float(v) for k, v in times.items()}, wall=wall),
        **(counter.last or {}),
    }


def main(argv):
    own, upstream_argv = _own_args(argv)
    sys.argv = [sys.argv[0]] + upstream_argv
    from ppstructure.utility import parse_args
    from ppstructure.table.predict_table import TableSystem

    args = parse_args()
    with open(own.image_list, encoding="utf-8") as f:
        images = [line.rstrip("\n") for line in f if line.strip()]
    table_sys = TableSystem(args)
    counter = StepCounter(table_sys.table_structurer.postprocess_op)
    table_sys.table_structurer.postprocess_op = counter

    # the first calls pay one-time costs (graph compilation on an NPU): keep them out of timings
    for path in images[: own.warmup]:
        try:
            _record_one(table_sys, counter, path)
        except Exception:
            pass
    records = {}
    for path in images:
        name = os.path.basename(path)
        try:
            records[name] = _record_one(table_sys, counter, path)
        except Exception as exc:
            sys.stderr.write("error: {}: {}\n".format(name, exc))
            traceback.print_exc(file=sys.stderr)
            records[name] = {"error": "{}: {}".format(type(exc).__name__, exc)}
    with open(own.record_json, "w", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
