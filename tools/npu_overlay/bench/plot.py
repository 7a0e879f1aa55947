"""The benchmark's picture: milliseconds per table against the decode steps each model ran.

One point per (model, image) at its warm median, one colour per model; the backbone's time is
a horizontal line, since every model pays it whatever the table. Written next to report.md.
"""

from __future__ import annotations

from pathlib import Path

from npu_overlay.bench.models import FEATURES


def plot_latency(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    rows = result["analysis"]["per_image"]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for model in result["models"]:
        name = model["name"]
        if name == FEATURES or name not in rows:
            continue
        points = sorted((r["steps_run"], r["median_ms"]) for r in rows[name].values())
        steps = [p[0] for p in points]
        line = "-" if len(set(steps)) > 1 else "none"  # a model that always runs 501 steps is a column
        ax.plot(steps, [p[1] for p in points], marker="o", linestyle=line, linewidth=1, label=name)
    backbone = result["analysis"].get("backbone_ms")
    if backbone:
        ax.axhline(backbone, color="grey", linestyle="--", linewidth=1, label="backbone + neck")
    env = result["environment"]
    ax.set_xlabel("decode steps run")
    ax.set_ylabel("ms per table (warm median)")
    ax.set_title(f"Table model on the CPU: Paddle {env['paddle']}, {env['threads']} threads")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
