"""README's error convention, on the real commands run as a user runs them: a missing
dependency or bad input is one line on stderr naming what to do, exit 2, no traceback.

`python -S` starts the interpreter without its site-packages: a real Python on which
GitPython, numpy, paddle and Pillow are not installed, as after `pip install tox GitPython`
in a fresh environment (or before it); our package comes from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_overlay import PACKAGE_HOME

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str, site: bool = True, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # our package from the checkout, nothing else: no site-packages, no caller's PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_HOME)}
    flags = [] if site else ["-S"]
    return subprocess.run([sys.executable, *flags, *argv], cwd=cwd, env=env, capture_output=True, text=True)


def one_line(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("argv, prog, package", [
    (["apply.py", "--help"], "apply.py", "pip install GitPython"),
    (["apply.py", "--check"], "apply.py", "pip install GitPython"),
    (["-m", "npu_overlay.convert_weights", "model", "out"], "convert_weights", "pip install 'numpy<2'"),
    (["-m", "npu_overlay.bench", "--no-export", "--out", "{tmp}/bench"], "bench", "pip install "),
    (["-m", "npu_overlay.render_tables", "--out", "{tmp}/tables", "--count", "1"], "render_tables", "pip install Pillow"),
])
def test_a_missing_dependency_is_one_line_naming_what_to_install(argv, prog, package, tmp_path):
    line = one_line(run(*(a.format(tmp=tmp_path) for a in argv), site=False))
    assert line.startswith(f"{prog}: error: ") and "is not installed here" in line and package in line
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_bad_lock_is_bad_input(tmp_path):
    lock = tmp_path / "upstream.lock"
    lock.write_text("[upstream\n")
    line = one_line(run(str(ROOT / "apply.py"), "--lock", str(lock), "--tree", str(tmp_path / "tree"), cwd=tmp_path))
    assert line.startswith("apply.py: error: ") and "not valid TOML" in line
    assert not (tmp_path / "tree").exists()


def test_a_bad_author_is_bad_input(tmp_path):
    line = one_line(run("apply.py", "--export-patches", str(tmp_path / "out"), "--author", "nobody"))
    assert "--author must be 'Name <email>'" in line


def test_the_pipeline_reports_its_own_errors_as_one_line(tmp_path):
    line = one_line(run("-m", "npu_overlay.pipeline", "--tree", str(tmp_path / "nowhere"), "--images", str(ROOT / "tests"),
                        "--out", str(tmp_path / "out")))
    assert line.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_an_image_file_given_for_the_image_folder_is_named_as_such(tmp_path):
    tree = tmp_path / "PaddleOCR"  # what the pipeline checks of a tree before it reads --images
    for name in ("tools/export_model.py", "ppstructure/table/predict_table.py"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("")
    image = sorted((ROOT / "tests" / "data" / "tables").glob("*.png"))[0]
    line = one_line(run("-m", "npu_overlay.pipeline", "--tree", str(tree), "--images", str(image),
                        "--out", str(tmp_path / "out")))
    assert "is a file; give the directory" in line
