"""TEDS between pairs of HTML tables, with upstream's own metric.

Runs against an upstream tree (``npu_overlay.pipeline.tree.run_module_in_tree``), like record_tables.py:
    cd TREE && PYTHONPATH=. python -m npu_overlay.pipeline.teds_scores PAIRS_JSON SCORES_JSON [structure_only]
PAIRS_JSON maps a name to [reference_html, candidate_html]; SCORES_JSON gets name -> score.
With ``structure_only`` it is TEDS-struct (cell text ignored), as upstream's metric offers it.
"""

import json
import sys


def main(pairs_file, scores_file, mode=""):
    from ppstructure.table.table_metric import TEDS

    with open(pairs_file, encoding="utf-8") as f:
        pairs = json.load(f)
    teds = TEDS(structure_only=mode == "structure_only", n_jobs=1)
    scores = {name: float(teds.evaluate(cand, ref)) for name, (ref, cand) in pairs.items()}
    with open(scores_file, "w", encoding="utf-8") as f:
        json.dump(scores, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
