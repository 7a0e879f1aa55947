"""The CPU benchmark of the table head's decode: upstream's export against the overlay's
(``python -m npu_overlay.bench``). One module per job:

* ``models``      exports every model compared, from the same SLANet_plus weights
* ``features_export`` (run inside an upstream tree) exports backbone + neck without the head
* ``predictors``  Paddle Inference predictors configured like upstream's table predictor on CPU
* ``measure``     warm-up, interleaved timing rounds, tokens and steps from the outputs
* ``program_ops`` exported ops per decode step (what a step's cost on the CPU follows)
* ``analysis``    per-step fits, ratios against upstream, the issue's targets
* ``report``      bench.json and report.md
* ``plot``        latency.png: ms per table against decode steps
* ``cold_start``  one model's cold start, in the fresh process it runs in
"""

from npu_overlay.cli import ToolError


class BenchError(ToolError):
    """Bad input or an unusable environment: the CLI prints it as one line and exits 2."""
