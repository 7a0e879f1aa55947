"""The real thing: the project's lock and series on real upstream PaddleOCR history.

Runs when PADDLEOCR_UPSTREAM names a source holding the pinned commit (a mirror URL, a
bare mirror, a clone); skipped, with the reason shown, otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from git import Repo

import apply
from npu_overlay.engine.lock import load_lock
from npu_overlay.engine.series import read_series_names

ROOT = Path(apply.__file__).resolve().parent
LOCK = load_lock(ROOT / "upstream.lock")


@pytest.mark.upstream
def test_real_series_on_the_real_pin_builds_an_importable_tree(upstream_source, tmp_path, capsys):
    tree = tmp_path / "PaddleOCR"
    series = read_series_names(LOCK.overlay_dir)
    # until the patches land the series is empty: then build and check the bare pin
    mode = [] if series else ["--pin-only"]
    assert apply.main(["--tree", str(tree), "--upstream", upstream_source, *mode]) == 0, capsys.readouterr().err

    repo = Repo(tree)
    assert repo.commit(f"HEAD~{len(series)}").hexsha == LOCK.commit
    commits = list(repo.iter_commits(f"{LOCK.commit}..HEAD"))
    assert len(commits) == len(series)
    # everything setup.py / pyproject.toml / MANIFEST.in read is in the sparse tree
    for needed in ("setup.py", "pyproject.toml", "MANIFEST.in", "VERSION_NUMBER", "README.md", "LICENSE"):
        assert (tree / needed).is_file(), needed
    assert (tree / "configs/table/SLANet.yml").is_file()
    assert (tree / "ppocr/utils/dict/table_structure_dict.txt").is_file()
    assert not (tree / "ppstructure/docs").exists()

    # the packages, plus the table head the overlay works on and the inference entry point (Paddle too)
    imports = (
        "import ppocr, tools, ppstructure, ppocr.modeling.heads.table_att_head, "
        "ppstructure.table.predict_structure; print('ok')"
    )
    # byte code is written, as on a developer's machine: --check below must not count it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", imports], cwd=tree, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    version = subprocess.run([sys.executable, "setup.py", "--version"], cwd=tree, capture_output=True, text=True)
    assert version.stdout.strip().splitlines()[-1] == (tree / "VERSION_NUMBER").read_text().strip(), version.stderr

    # --check: exactly pin + series, and an edit is named
    assert apply.main(["--tree", str(tree), "--check", *mode]) == 0, capsys.readouterr()
    capsys.readouterr()
    head = tree / "ppstructure/table/predict_structure.py"
    head.write_text(head.read_text() + "\n# local edit\n")
    assert apply.main(["--tree", str(tree), "--check", *mode]) == 1
    assert capsys.readouterr().out.splitlines() == ["M ppstructure/table/predict_structure.py"]
