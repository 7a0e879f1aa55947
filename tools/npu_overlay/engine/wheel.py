"""apply.py --wheel: the built tree as a drop-in wheel, made offline and reproducibly.

Upstream's release runs `python -m build` at its root: an sdist from pyproject.toml and
MANIFEST.in, then the wheel from that sdist. This does the same, without build isolation
(nothing is downloaded), on a copy of the tree's checked-out files into which three things
are written:
    VERSION_NUMBER   <upstream version>+npu.<N>, N from the release record (releases.py)
    _npu_overlay.py  the pin and the series digest, read by the package as __npu_overlay__
    pyproject.toml   the same record appended to the description (the metadata's Summary)
SOURCE_DATE_EPOCH is the last patch's date (HEAD's author date), so the same pin + series give the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from git import Repo

from .errors import MissingDependency, OverlayError
from .lock import Lock
from .releases import Release
from .series import Series

# what `python -m build --no-isolation` needs besides this interpreter (pip install names)
BUILD_MODULES = {"build": "build", "setuptools": "'setuptools>=61,<72'", "wheel": "wheel"}
VERSION_FILE = "VERSION_NUMBER"
RECORD_MODULE = "_npu_overlay.py"
DESCRIPTION = re.compile(r'^description = "(.*)"$', re.MULTILINE)


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    version: str
    sha256: str


# upstream's pyproject packages the tree through package-dir = {paddleocr = ""} with
# include-package-data; setuptools 72 and later build only the top-level modules from it (a wheel of
# 10 files instead of 201, measured), so the wheel is built with the setuptools upstream's layout needs
SETUPTOOLS_BELOW = (72,)


def missing_build_modules() -> list[str]:
    missing = [pip_name for module, pip_name in BUILD_MODULES.items() if importlib.util.find_spec(module) is None]
    if "setuptools" not in missing and not setuptools_fits():
        missing.append("'setuptools<72'")
    return missing


def setuptools_fits() -> bool:
    from importlib.metadata import version

    release = tuple(int(part) for part in re.findall(r"\d+", version("setuptools"))[:1])
    return release < SETUPTOOLS_BELOW


def build_wheel(repo: Repo, lock: Lock, series: Series, release: Release, dist: Path) -> BuiltWheel:
    """Build the wheel of `repo`'s checked-out tree into `dist`; the tree must be pin + series, clean."""
    missing = missing_build_modules()
    if missing:
        raise MissingDependency(f"building a wheel needs {', '.join(missing)}: pip install {' '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="overlay-wheel-") as scratch:
        stage, out = Path(scratch, "src"), Path(scratch, "out")
        copy_checked_out_files(repo, stage)
        version = stamp(stage, lock, series, release)
        run_build(stage, out, epoch=repo.head.commit.authored_date)  # the last patch's Date: the same everywhere
        wheels = list(out.glob("*.whl"))
        if len(wheels) != 1:
            raise OverlayError(f"python -m build left {len(wheels)} wheels instead of one")
        dist.mkdir(parents=True, exist_ok=True)
        target = dist / wheels[0].name
        partial = dist / (wheels[0].name + ".part")  # never a half-copied wheel under the final name
        shutil.copyfile(wheels[0], partial)
        os.replace(partial, target)
    return BuiltWheel(target, version, hashlib.sha256(target.read_bytes()).hexdigest())


def copy_checked_out_files(repo: Repo, stage: Path) -> None:
    """The committed files of the sparse checkout, with git's modes (not the umask's)."""
    root = Path(repo.working_tree_dir)
    for line in repo.git.ls_files("-s", "-t", "-z").split("\0"):
        if not line.startswith("H "):  # S: outside the sparse paths, not checked out
            continue
        meta, path = line[2:].split("\t", 1)
        mode = meta.split()[0]
        if mode not in ("100644", "100755"):  # symlinks and submodules are not package files
            continue
        target = stage / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / path, target)
        target.chmod(0o755 if mode == "100755" else 0o644)


def stamp(stage: Path, lock: Lock, series: Series, release: Release) -> str:
    """Write the local version and the overlay record into the staged copy; returns the version."""
    version_file, pyproject = stage / VERSION_FILE, stage / "pyproject.toml"
    if not version_file.is_file() or not pyproject.is_file():
        raise OverlayError(f"the tree has no {VERSION_FILE} or pyproject.toml: upstream's build files moved")
    text = pyproject.read_text(encoding="utf-8")
    if f'{{file = "{VERSION_FILE}"}}' not in text or len(DESCRIPTION.findall(text)) != 1:
        raise OverlayError(
            f"pyproject.toml no longer reads its version from {VERSION_FILE} or has no one-line description: "
            "upstream's build files changed; update tools/npu_overlay/engine/wheel.py"
        )
    upstream_version = version_file.read_text(encoding="utf-8").strip()
    version = f"{upstream_version}+npu.{release.number}"
    version_file.write_text(version + "\n", encoding="utf-8")
    record = {
        "release": release.number,
        "upstream": lock.commit,
        "series": series.digest(),
        "patches": [patch.name for patch in series.patches],
    }
    (stage / RECORD_MODULE).write_text(
        "# Written by the NPU overlay's wheel build (apply.py --wheel): what this package was built from.\n"
        f"NPU_OVERLAY = {record!r}\n",
        encoding="utf-8",
    )
    note = f" [NPU overlay npu.{release.number}: upstream {lock.commit}, patch series sha256:{series.digest()}]"
    pyproject.write_text(DESCRIPTION.sub(lambda m: f'description = "{m.group(1)}{note}"', text), encoding="utf-8")
    return version


def run_build(stage: Path, out: Path, epoch: int) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0", "PIP_NO_INDEX": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(stage)],
        cwd=stage,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        raise OverlayError(f"python -m build failed: {lines[-1].strip() if lines else proc.returncode}")
