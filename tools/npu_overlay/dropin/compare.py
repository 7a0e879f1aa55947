"""python -m npu_overlay.dropin: the drop-in wheel against upstream's published paddleocr, each in a fresh venv.

    python -m npu_overlay.dropin --wheel dist/paddleocr-2.8.1+npu.2-py3-none-any.whl --tree build/PaddleOCR \\
        --images tests/data/tables --work runs/dropin --report docs/dropin.md

For each package (upstream's `paddleocr==<version>` from the package registry, and ours), a new
virtual environment gets paddlepaddle and the package, then, with nothing of this repository on
sys.path: the public API (module-level names, signatures, CLI flags and defaults), and
PPStructure(layout=False) with local det/rec/table models on every image, through the API and
through the `paddleocr` console script. Also compared: the two wheels' files (every difference
traced to a patch, the build stamp or upstream, tools/npu_overlay/dropin/wheelfiles.py), and `pip install`
of ours over upstream's, then `pip uninstall`. Writes <work>/dropin.json and the markdown report.
Exit status: 0 all checks hold, 1 one failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from git import Repo

from npu_overlay import REPO_ROOT
from npu_overlay.cli import ToolError
from npu_overlay.dropin import report, wheelfiles
from npu_overlay.engine.lock import load_lock
from npu_overlay.engine.series import load_series

PROBE = Path(__file__).with_name("probe.py")
PADDLE = "paddlepaddle==3.0.0"
# the structure CLI saves each table as .xlsx through these; upstream's wheel does not declare them,
# so without them `paddleocr --type structure` stops after the first image (in both packages)
CLI_EXTRAS = ["premailer", "openpyxl"]


class DropinError(ToolError):
    """Bad input: printed as one line, exit 2."""


class VenvStepFailed(Exception):
    """A step in a fresh venv failed (its output is in the log it names): exit 1."""


def run(cmd: list[str], log: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    with log.open("a") as out:
        out.write(f"$ {' '.join(map(str, cmd))}\n")
        out.flush()
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise VenvStepFailed(f"{' '.join(map(str, cmd[:4]))} ... failed (exit {proc.returncode}); see {log}")
    return proc


def fresh_venv(path: Path, wheel: Path, log: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", PADDLE, *CLI_EXTRAS, wheel], log)
    return python


def site_packages(python: Path) -> Path:
    out = subprocess.run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def cli_tables(python: Path, images: Path, models: dict[str, Path], out: Path, log: Path) -> dict:
    """`paddleocr --type structure --layout false` on the image folder; the tables it saved, per image."""
    script = python.parent / "paddleocr"
    flags = [f"--{key}_model_dir={value}" for key, value in models.items()]
    run([script, "--image_dir", images, "--type", "structure", "--layout", "false", "--use_gpu", "false",
         "--show_log", "false", "--output", out, *flags], log, cwd=out.parent)
    found = {}
    for image in sorted(images.glob("*.png")):
        lines = (out / image.stem / "res_0.txt").read_text(encoding="utf-8").splitlines()
        regions = [json.loads(line) for line in lines if line.strip()]
        found[image.name] = [{"html": r["res"]["html"], "cell_bbox": r["res"]["cell_bbox"]}
                             for r in regions if r["type"] == "table"]
    return found


def install_over(python: Path, ours: Path, log: Path) -> dict:
    """In upstream's environment: install ours over it, then uninstall; what was left each time."""
    site = site_packages(python)
    run([python, "-m", "pip", "install", "--no-deps", ours], log)
    version = subprocess.run([python, "-I", "-c", "import importlib.metadata as m; print(m.version('paddleocr'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    installed = {str(p.relative_to(site)) for p in (site / "paddleocr").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    wheel = {name for name in wheelfiles.wheel_files(ours) if name.startswith("paddleocr/")}
    run([python, "-m", "pip", "uninstall", "-y", "paddleocr"], log)
    left = sorted(str(p.relative_to(site)) for p in site.iterdir() if p.name.lower().startswith("paddleocr"))
    left += [str(p) for p in [python.parent / "paddleocr"] if p.exists()]
    return {"version_after_install": version, "files_not_from_our_wheel": sorted(installed - wheel),
            "our_files_not_installed": sorted(wheel - installed), "left_after_uninstall": left}


def compare(args) -> dict:
    lock = load_lock(args.lock)
    series = load_series(lock.overlay_dir)
    repo = Repo(args.tree)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    log = work / "dropin.log"
    log.write_text("")
    upstream_dir = work / "upstream-wheel"
    shutil.rmtree(upstream_dir, ignore_errors=True)
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"paddleocr=={args.upstream_version}",
         "-d", upstream_dir], log)
    upstream_wheel = next(upstream_dir.glob("*.whl"))

    images = sorted(args.images.glob("*.png"))
    models = {"det": args.det_model_dir, "rec": args.rec_model_dir, "table": args.table_model_dir,
              "layout": args.det_model_dir}  # layout=False: never loaded, but it must exist or it is downloaded
    kwargs = {f"{key}_model_dir": str(value) for key, value in models.items()}
    kwargs.update(layout=False, use_gpu=False, show_log=False)
    specs = {"upstream": {"kwargs": kwargs, "images": [str(i) for i in images]}}
    specs["ours"] = dict(specs["upstream"])
    if args.static_table_model_dir:  # ours only: upstream's predictors cannot load a PIR inference.json
        specs["ours"]["static_kwargs"] = {**kwargs, "table_model_dir": str(args.static_table_model_dir)}

    result = {"upstream_wheel": upstream_wheel.name, "our_wheel": args.wheel.name, "paddle": PADDLE,
              "cli_extras": CLI_EXTRAS,
              "images": [i.name for i in images], "models": {k: str(v) for k, v in models.items()},
              "static_table_model_dir": _shown(str(args.static_table_model_dir)) if args.static_table_model_dir else ""}
    pythons = {}
    for name, wheel in (("upstream", upstream_wheel), ("ours", args.wheel)):
        pythons[name] = python = fresh_venv(work / f"venv-{name}", wheel, log)
        runs = work / f"run-{name}"
        shutil.rmtree(runs, ignore_errors=True)
        runs.mkdir()
        spec = work / f"spec-{name}.json"
        spec.write_text(json.dumps(specs[name]))
        run([python, "-I", PROBE, spec, runs / "probe.json"], log, cwd=runs)
        result[name] = json.loads((runs / "probe.json").read_text())
        result[name]["cli_tables"] = cli_tables(python, args.images, models, runs / "output", log)
    result["files"] = [row.__dict__ for row in wheelfiles.compare_wheels(args.wheel, upstream_wheel, repo,
                                                                          lock.commit, series)]
    result["install_over"] = install_over(pythons["upstream"], args.wheel, log)
    result["checks"] = report.checks(result)
    return result


def _shown(arg: str) -> str:
    """A path inside this repository as the README would write it: relative to the root."""
    path = Path(arg).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.exists() and path.is_relative_to(REPO_ROOT) else arg


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="our wheel (python apply.py --wheel)")
    parser.add_argument("--tree", type=Path, default=REPO_ROOT / "build" / "PaddleOCR", help="the tree it was built from")
    parser.add_argument("--lock", type=Path, default=REPO_ROOT / "upstream.lock")
    parser.add_argument("--upstream-version", default="2.8.1", help="upstream's published paddleocr to compare with")
    parser.add_argument("--images", type=Path, default=REPO_ROOT / "tests" / "data" / "tables")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "runs" / "dropin", help="venvs, runs, dropin.json")
    parser.add_argument("--report", type=Path, help="markdown report (e.g. docs/dropin.md)")
    for key, model in (("det", "ppocrv4_det"), ("rec", "ppocrv4_rec"), ("table", "slanet_plus")):
        parser.add_argument(f"--{key}-model-dir", type=Path, help=f"default: the cached {model}")
    parser.add_argument("--static-table-model-dir", type=Path,
                        help="our static export of the same table weights (README: Install as paddleocr): "
                             "ours also runs with it, and its HTML is compared with upstream's")
    args = parser.parse_args(argv)
    from npu_overlay.model_cache import model_dir

    for key, model in (("det", "ppocrv4_det"), ("rec", "ppocrv4_rec"), ("table", "slanet_plus")):
        name = f"{key}_model_dir"
        setattr(args, name, (getattr(args, name) or model_dir(model)).resolve())
    for name in ("wheel", "tree", "lock", "images", "work"):
        setattr(args, name, getattr(args, name).resolve())
    if not args.wheel.is_file():
        raise DropinError(f"{args.wheel}: no such wheel (build it with python apply.py --wheel)")
    if not (args.tree / ".git").exists():
        raise DropinError(f"{args.tree}: no build tree (run python apply.py)")
    if args.static_table_model_dir:
        args.static_table_model_dir = args.static_table_model_dir.resolve()
        if not (args.static_table_model_dir / "inference.json").is_file():
            raise DropinError(f"{args.static_table_model_dir}: no inference.json (export it first)")
    if not list(args.images.glob("*.png")):
        raise DropinError(f"{args.images}: no .png images")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except ToolError as exc:  # DropinError, ModelCacheError
        print(f"npu_overlay.dropin: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = compare(args)
    except VenvStepFailed as exc:
        print(f"npu_overlay.dropin: error: {exc}", file=sys.stderr)
        return 1
    (args.work / "dropin.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    if args.report:
        given = argv if argv is not None else sys.argv[1:]
        command = "python -m npu_overlay.dropin " + " ".join(_shown(a) for a in given)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report.markdown(result, command))
    failed = [name for name, check in result["checks"].items() if not check["ok"]]
    print(f"{len(result['checks']) - len(failed)}/{len(result['checks'])} checks hold"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
