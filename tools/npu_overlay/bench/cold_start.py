"""Cold start of one exported table model, in the fresh process this module runs in.

What a one-shot user (``predict_table.py``, ``predict_structure.py``) pays before the first
table: creating the predictor (Paddle Inference loads and optimises the program) and the
first run (the executor's one-time set-up), then steady runs for comparison. The benchmark
starts one process per (model, round), interleaving models, and reads the JSON line it prints.

    python -m npu_overlay.bench.cold_start PROGRAM IMAGE [--threads 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from npu_overlay import REPO_ROOT, child_env



def measure_cold_start(program: str, image: str, threads: int, runs: int) -> dict:
    from npu_overlay.bench.predictors import program_predictor
    from npu_overlay.table_input import preprocess, read_image

    batch = preprocess(read_image(image))[0]
    start = time.perf_counter()
    predictor = program_predictor(program, threads)
    created = time.perf_counter() - start
    first = predictor.run(batch).seconds
    steady = [predictor.run(batch).seconds for _ in range(runs)]
    return {"create_s": created, "first_run_s": first, "steady_s": statistics.median(steady),
            "cold_s": created + first}


def cold_start_in_fresh_process(program: str, image: str, threads: int, runs: int) -> dict:
    """Runs this module in a new interpreter. Creation includes importing the runtime (paddle or
    onnxruntime is first imported by the predictor), as in a user's fresh process; the
    interpreter's start and the image's pre-processing are left out."""
    cmd = [sys.executable, "-m", "npu_overlay.bench.cold_start", str(program), str(image),
           "--threads", str(threads), "--runs", str(runs)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=child_env(), capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        from npu_overlay.bench import BenchError

        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"cold start of {program} failed: {reason}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m npu_overlay.bench.cold_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("program", help="inference.json / inference.pdmodel of an export")
    parser.add_argument("image", help="a table image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="steady runs after the first (median reported)")
    args = parser.parse_args(argv)
    print(json.dumps(measure_cold_start(args.program, args.image, args.threads, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
