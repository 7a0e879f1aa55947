"""What a one-shot user pays per image: upstream's own ``ppstructure/table/predict_table.py``
started as a fresh process on one image, timed from start to exit.

That is how the script is used (one process per run), so the time includes Python's and
Paddle's import, the three predictors' creation and first runs, and the table itself. The
regression runs it for every image, for the reference and the candidate alike.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from npu_overlay.pipeline import PipelineError
from npu_overlay.pipeline.tree import last_error_line, run_in_tree

PREDICT_TABLE = "ppstructure/table/predict_table.py"
PREDICT_TIME = re.compile(r"Predict time : ([0-9.]+)s")


def time_predict_table(tree: Path, image: Path, flags: list[str], out: Path, env: dict[str, str]) -> dict:
    """``{"process_s": start to exit, "table_system_s": the script's own 'Predict time'}``."""
    log = out / "logs" / f"predict_table_{image.stem}.log"
    start = time.perf_counter()
    proc = run_in_tree(tree, [PREDICT_TABLE, f"--image_dir={image}", f"--output={out / 'predict_table' / image.stem}",
                              *flags], log, env)
    seconds = time.perf_counter() - start
    found = PREDICT_TIME.findall(log.read_text(encoding="utf-8", errors="replace"))
    if proc.returncode != 0 or not found:
        raise PipelineError(f"predict_table.py failed on {image.name} ({log}): {last_error_line(log)}")
    return {"process_s": seconds, "table_system_s": float(found[-1])}
