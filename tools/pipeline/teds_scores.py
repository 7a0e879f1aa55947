"""TEDS between pairs of HTML tables, with upstream's own metric.

Runs against an upstream tree (``tools.pipeline.tree.run_script_in_tree``), like record_tables.py:
    cd TREE && PYTHONPATH=. python -P teds_scores.py PAIRS_JSON SCORES_JSON
PAIRS_JSON maps a name to [reference_html, candidate_html]; SCORES_JSON gets name -> score.
"""

import json
import sys


def main(pairs_file, scores_file):
    from ppstructure.table.table_metric import TEDS

    with open(pairs_file, encoding="utf-8") as f:
        pairs = json.load(f)
    teds = TEDS(n_jobs=1)
    scores = {name: float(teds.evaluate(cand, ref)) for name, (ref, cand) in pairs.items()}
    with open(scores_file, "w", encoding="utf-8") as f:
        json.dump(scores, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
