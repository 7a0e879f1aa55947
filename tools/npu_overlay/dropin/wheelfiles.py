"""Our wheel's files against upstream's published wheel, each difference traced to its cause.

A file of ours that is missing upstream, or whose bytes differ, must come from one of:
a patch of the series (it touches the path), the wheel build's stamp (version and overlay
record, tools/npu_overlay/engine/wheel.py), setuptools' metadata of that stamp, or upstream itself (the
file is byte-identical to the pinned commit, which is newer than the published release).
Anything else is untraced; a file of upstream's that we lack is missing. Both fail the check.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from git import Repo

from npu_overlay.engine.series import Series

PACKAGE = "paddleocr/"
STAMPED = {"VERSION_NUMBER", "_npu_overlay.py", "pyproject.toml"}  # written by tools/npu_overlay/engine/wheel.py
DIST_INFO = re.compile(r"^paddleocr-[^/]+\.dist-info/")


@dataclass(frozen=True)
class FileRow:
    path: str  # inside the wheel, the dist-info folder named without its version
    status: str  # same | differs | ours only | upstream only
    cause: str  # "" for same files


def wheel_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as whl:
        return {DIST_INFO.sub("paddleocr-VERSION.dist-info/", name): whl.read(name) for name in whl.namelist()}


def patched_paths(series: Series) -> dict[str, list[str]]:
    """Tree path -> the patches (NNNN) that touch it."""
    touched: dict[str, list[str]] = {}
    for patch in series.patches:
        for path in re.findall(rb"^diff --git a/(\S+) b/", patch.data, re.MULTILINE):
            touched.setdefault(path.decode(), []).append(patch.name[:4])
    return touched


def pin_bytes(repo: Repo, pin: str, path: str) -> bytes | None:
    try:
        return (repo.commit(pin).tree / path).data_stream.read()
    except KeyError:  # not in the pin (a new file)
        return None


def cause(path: str, ours: bytes, repo: Repo, pin: str, touched: dict[str, list[str]]) -> str:
    metadata = "the stamped version and Summary, patch " + ", ".join(touched.get("pyproject.toml", []))
    if path.startswith("paddleocr-VERSION.dist-info/"):
        return f"wheel metadata from pyproject.toml: {metadata}"
    if not path.startswith(PACKAGE):
        return ""
    inner = path[len(PACKAGE):]
    if inner.startswith("paddleocr.egg-info/"):
        return f"setuptools' egg-info from pyproject.toml: {metadata}"
    if inner in STAMPED:
        patched = ", patch " + ", ".join(touched[inner]) if inner in touched else ""
        return "wheel build stamp (tools/npu_overlay/engine/wheel.py)" + patched
    if inner in touched:
        return "patch " + ", ".join(touched[inner])
    if pin_bytes(repo, pin, inner) == ours:
        return f"upstream after the 2.8.1 release (as in the pin {pin[:12]})"
    return ""


def compare_wheels(ours_path: Path, upstream_path: Path, repo: Repo, pin: str, series: Series) -> list[FileRow]:
    ours, theirs = wheel_files(ours_path), wheel_files(upstream_path)
    touched = patched_paths(series)
    rows = []
    for path in sorted(set(ours) | set(theirs)):
        if path.endswith("dist-info/RECORD"):
            continue  # hashes of the files compared here
        if path not in ours:
            rows.append(FileRow(path, "upstream only", "MISSING"))
        elif path not in theirs:
            rows.append(FileRow(path, "ours only", cause(path, ours[path], repo, pin, touched) or "UNTRACED"))
        elif ours[path] != theirs[path]:
            rows.append(FileRow(path, "differs", cause(path, ours[path], repo, pin, touched) or "UNTRACED"))
        else:
            rows.append(FileRow(path, "same", ""))
    return rows
