"""Compare a candidate run's records with a reference run's: the regression rules.

Per image: identical structure tokens, every cell box within ``box_tol`` pixels, HTML TEDS
(upstream's table_metric) at least ``teds_min``; and, when asked, a table-latency ratio cap.
An image the reference has and the candidate lacks or failed on is a regression too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from npu_overlay.pipeline.tree import last_error_line, run_module_in_tree

TEDS_SCRIPT = "npu_overlay.pipeline.teds_scores"


@dataclass
class ImageResult:
    name: str
    tokens_equal: bool = False
    first_token_diff: int | None = None
    box_max_diff: float | None = None
    teds: float | None = None
    reference_table_s: float | None = None
    candidate_table_s: float | None = None
    reference_steps: int | None = None
    candidate_steps: int | None = None
    # upstream's predict_table.py as a fresh process on this image, start to exit
    reference_one_shot_s: float | None = None
    candidate_one_shot_s: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def latency_ratio(self) -> float | None:
        if self.reference_table_s and self.candidate_table_s is not None:
            return self.candidate_table_s / self.reference_table_s
        return None


@dataclass
class Comparison:
    images: list[ImageResult]
    box_tol: float
    teds_min: float
    max_latency_ratio: float | None

    @property
    def regressions(self) -> list[str]:
        return [f"{r.name}: {p}" for r in self.images for p in r.problems]

    def total(self, key: str) -> float:
        return sum(getattr(r, key) or 0.0 for r in self.images)

    @property
    def latency_ratio(self) -> float | None:
        ref = self.total("reference_table_s")
        return self.total("candidate_table_s") / ref if ref else None

    def to_json(self) -> dict:
        return {"box_tol": self.box_tol, "teds_min": self.teds_min, "max_latency_ratio": self.max_latency_ratio,
                "latency_ratio": self.latency_ratio, "regressions": self.regressions,
                "images": [dict(asdict(r), latency_ratio=r.latency_ratio) for r in self.images]}


def _first_diff(a: list, b: list) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _box_max_diff(a: list, b: list) -> float | None:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return None
    return float(np.abs(a - b).max()) if a.size else 0.0


def compare_image(name: str, ref: dict, cand: dict, box_tol: float) -> ImageResult:
    r = ImageResult(name)
    r.reference_table_s = ref["timings"].get("table")
    r.candidate_table_s = cand["timings"].get("table")
    r.reference_steps, r.candidate_steps = ref.get("eos_step"), cand.get("eos_step")
    r.reference_one_shot_s = (ref.get("one_shot") or {}).get("process_s")
    r.candidate_one_shot_s = (cand.get("one_shot") or {}).get("process_s")
    r.first_token_diff = _first_diff(ref["tokens"], cand["tokens"])
    r.tokens_equal = r.first_token_diff is None
    if not r.tokens_equal:
        i = r.first_token_diff
        got = cand["tokens"][i] if i < len(cand["tokens"]) else "(end)"
        want = ref["tokens"][i] if i < len(ref["tokens"]) else "(end)"
        r.problems.append(f"structure tokens differ at {i}: {got!r} instead of {want!r}")
    r.box_max_diff = _box_max_diff(ref["boxes"], cand["boxes"])
    if r.box_max_diff is None:
        r.problems.append(f"{len(cand['boxes'])} cell boxes instead of {len(ref['boxes'])}")
    elif r.box_max_diff > box_tol:
        r.problems.append(f"cell boxes moved by up to {r.box_max_diff:.3f} px (tolerance {box_tol})")
    return r


def compare_records(reference: dict, candidate: dict, teds_scores: dict[str, float], box_tol: float = 1.0,
                    teds_min: float = 0.999, max_latency_ratio: float | None = None) -> Comparison:
    results = []
    for name in sorted(set(reference["images"]) | set(reference.get("failed", {}))):
        if name not in reference["images"]:
            continue  # failed upstream too: nothing to compare against
        if name not in candidate["images"]:
            why = candidate.get("failed", {}).get(name, "not in the candidate run")
            results.append(ImageResult(name, problems=[f"failed on the candidate: {why}"]))
            continue
        r = compare_image(name, reference["images"][name], candidate["images"][name], box_tol)
        r.teds = teds_scores.get(name)
        if r.teds is None:
            r.problems.append("no TEDS score")
        elif r.teds < teds_min:
            r.problems.append(f"HTML TEDS {r.teds:.4f} below {teds_min}")
        if max_latency_ratio is not None and r.latency_ratio is not None and r.latency_ratio > max_latency_ratio:
            r.problems.append(f"table latency ratio {r.latency_ratio:.2f} above {max_latency_ratio}")
        results.append(r)
    for name in sorted(set(candidate["images"]) - set(reference["images"]) - set(reference.get("failed", {}))):
        results.append(ImageResult(name, problems=["not in the reference run"]))
    return Comparison(results, box_tol, teds_min, max_latency_ratio)


def teds_scores(tree: Path, reference: dict, candidate: dict, work: Path) -> dict[str, float]:
    """Upstream's TEDS, reference HTML against candidate HTML, for every image both recorded."""
    common = sorted(set(reference["images"]) & set(candidate["images"]))
    return run_teds(tree, {n: [reference["images"][n]["html"], candidate["images"][n]["html"]] for n in common},
                    work)


def run_teds(tree: Path, pairs: dict[str, list[str]], work: Path, structure_only: bool = False) -> dict[str, float]:
    """Upstream's TEDS (TEDS-struct with ``structure_only``) over name -> [reference, candidate] HTML,
    run against the tree; PipelineError naming the log when it fails."""
    work = Path(work).resolve()  # the script runs with the tree as its working directory
    work.mkdir(parents=True, exist_ok=True)
    pairs_file, scores_file = work / "teds_pairs.json", work / "teds_scores.json"
    pairs_file.write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    scores_file.unlink(missing_ok=True)
    log = work / "logs" / "teds.log"
    args = [str(pairs_file), str(scores_file)] + (["structure_only"] if structure_only else [])
    proc = run_module_in_tree(tree, TEDS_SCRIPT, args, log)
    if proc.returncode != 0 or not scores_file.is_file():
        from npu_overlay.pipeline import PipelineError

        raise PipelineError(f"TEDS failed ({log}): {last_error_line(log)}")
    return json.loads(scores_file.read_text(encoding="utf-8"))
