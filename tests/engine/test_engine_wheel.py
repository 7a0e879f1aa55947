"""apply.py --wheel on a fixture upstream packaged like PaddleOCR (offline, ~10 s).

The fixture has upstream's build layout: pyproject.toml with `package-dir = {paddleocr = ""}`,
the version read from VERSION_NUMBER, MANIFEST.in selecting the subpackages. Real builds
(`python -m build`, no isolation) from two separately built trees must give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from email.parser import Parser

import pytest
from git import Actor, Repo

import apply
from fixture_upstream import _commit, write_lock
from npu_overlay.engine.series import load_series

PATCHER = Actor("Dee Packager", "dee@example.org")
PYPROJECT = """\
[build-system]
requires = ["setuptools", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "paddleocr"
dynamic = ["version"]
description = "Fixture OCR toolkit"
requires-python = ">=3.8"

[project.scripts]
paddleocr = "paddleocr.paddleocr:main"

[tool.setuptools]
packages = ["paddleocr"]
package-dir = { "paddleocr" = "" }
include-package-data = true

[tool.setuptools.dynamic]
version = {file = "VERSION_NUMBER"}
"""
INIT = """\
from .paddleocr import main

try:
    from ._npu_overlay import NPU_OVERLAY as __npu_overlay__
except ImportError:
    __npu_overlay__ = None
"""
PATHS = ["ppocr", "pyproject.toml", "MANIFEST.in", "VERSION_NUMBER", "__init__.py", "paddleocr.py", ".gitignore"]


@pytest.fixture(autouse=True)
def no_upstream_from_environment(monkeypatch):
    monkeypatch.delenv("PADDLEOCR_UPSTREAM", raising=False)


@pytest.fixture(scope="session")
def packaged_upstream(tmp_path_factory):
    """(bare mirror, pin, overlay dir with one patch that adds ppocr/npu.py)."""
    base = tmp_path_factory.mktemp("packaged")
    repo = Repo.init(base / "work", initial_branch="main")
    _commit(
        repo,
        {
            "pyproject.toml": PYPROJECT,
            "MANIFEST.in": "include VERSION_NUMBER\nrecursive-include ppocr *.py\n",
            "VERSION_NUMBER": "2.8.1\n",
            "__init__.py": INIT,
            "paddleocr.py": "def main():\n    return 0\n",
            "ppocr/__init__.py": "",
            "ppocr/util.py": "LIMIT = 501\n",
            ".gitignore": "__pycache__/\n*.egg-info/\n",
            "docs/manual.md": "# not packaged, not checked out\n",
        },
        "Initial import",
    )
    pin = _commit(repo, {"ppocr/util.py": "LIMIT = 512\n"}, "Raise the limit")
    bare = base / "mirror.git"
    Repo.clone_from(str(base / "work"), str(bare), bare=True)

    lock = write_lock(base / "upstream.lock", str(bare), pin, paths=PATHS, exclude=[])
    (base / "overlay").mkdir()
    tree = base / "tree"
    assert apply.main(["--lock", str(lock), "--tree", str(tree), "--pin-only", "--upstream", str(bare)]) == 0
    (tree / "ppocr" / "npu.py").write_text("def on_npu():\n    return False\n")
    Repo(tree).index.add(["ppocr/npu.py"])
    Repo(tree).index.commit("Add an NPU probe\n\nThe package needs to know its device.\n", author=PATCHER, committer=PATCHER)
    patches = base / "patches"
    Repo(tree).git.format_patch("-o", str(patches), f"{pin}..HEAD")
    (patches / "series").write_text("\n".join(sorted(p.name for p in patches.iterdir())) + "\n")
    return bare, pin, patches


@pytest.fixture
def project(tmp_path, packaged_upstream):
    bare, pin, patches = packaged_upstream
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    for patch in patches.iterdir():
        (overlay / patch.name).write_bytes(patch.read_bytes())
    lock = write_lock(tmp_path / "upstream.lock", str(bare), pin, paths=PATHS, exclude=[])
    return tmp_path, lock, pin


def run(capsys, *argv) -> tuple[int, str, str]:
    code = apply.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("apply.py: error: "), err
    return lines[0]


def test_two_trees_give_the_same_wheel_with_the_pin_and_series_recorded(capsys, project):
    root, lock, pin = project
    for tree in ("tree-a", "tree-b"):
        assert run(capsys, "--lock", lock, "--tree", root / tree)[0] == 0
    code, out, err = run(capsys, "--lock", lock, "--tree", root / "tree-a", "--wheel", "--new-release",
                         "--dist", root / "dist-a")
    assert code == 0, err
    assert "release npu.1" in out
    code, _, err = run(capsys, "--lock", lock, "--tree", root / "tree-b", "--wheel", "--dist", root / "dist-b")
    assert code == 0, err

    name = "paddleocr-2.8.1+npu.1-py3-none-any.whl"
    first, second = root / "dist-a" / name, root / "dist-b" / name
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    assert sorted(p.name for p in (root / "dist-a").iterdir()) == [name]  # no partial file left

    digest = load_series(root / "overlay").digest()
    with zipfile.ZipFile(first) as whl:
        files = set(whl.namelist())
        stamps = {info.date_time for info in whl.infolist()}
        metadata = Parser().parsestr(whl.read("paddleocr-2.8.1+npu.1.dist-info/METADATA").decode())
    assert {"paddleocr/ppocr/npu.py", "paddleocr/ppocr/util.py", "paddleocr/_npu_overlay.py"} <= files
    assert not any("docs/" in f for f in files)
    assert metadata["Version"] == "2.8.1+npu.1"
    # every entry dated by the last patch (zip keeps even seconds), not by when files were copied
    epoch = Repo(root / "tree-a").head.commit.authored_date
    assert stamps == {time.gmtime(epoch - epoch % 2)[:6]}
    assert pin in metadata["Summary"] and digest in metadata["Summary"]

    imported = subprocess.run(
        [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[1]); import paddleocr;"
         " print(json.dumps(paddleocr.__npu_overlay__))", str(first)],
        capture_output=True, text=True, check=True, cwd=root,
    )
    record = json.loads(imported.stdout)
    assert record["upstream"] == pin and record["series"] == digest and record["release"] == 1
    assert record["patches"] == [p.name for p in load_series(root / "overlay").patches]

    releases = (root / "overlay" / "releases.toml").read_text()
    assert releases.count("[[release]]") == 1 and digest in releases


def test_bad_trees_and_unrecorded_series_are_refused_in_one_line(capsys, project):
    root, lock, _ = project
    tree, dist = root / "tree", root / "dist"
    code, _, err = run(capsys, "--lock", lock, "--tree", tree, "--wheel", "--dist", dist)
    assert code == 2 and "no build tree" in one_error_line(err)  # bad input, as for --check

    assert run(capsys, "--lock", lock, "--tree", tree)[0] == 0
    code, _, err = run(capsys, "--lock", lock, "--tree", tree, "--wheel", "--dist", dist)
    assert code == 1 and "--new-release" in one_error_line(err)

    (tree / "ppocr" / "util.py").write_text("LIMIT = 1\n")
    code, _, err = run(capsys, "--lock", lock, "--tree", tree, "--wheel", "--new-release", "--dist", dist)
    assert code == 1 and "uncommitted changes (ppocr/util.py)" in one_error_line(err)
    assert not dist.exists() and not (root / "overlay" / "releases.toml").exists()

    with pytest.raises(SystemExit) as exit_:
        apply.main(["--new-release"])
    assert exit_.value.code == 2 and "--new-release goes with --wheel" in one_error_line(capsys.readouterr().err)
