"""Patches meant for upstream follow upstream's house rules, checked without an upstream tree.

A patch whose message carries a `Forwarded:` field (DEP-3 style) is one we send upstream: every
Python file it adds starts with upstream's Apache licence header and is formatted as upstream's
pre-commit hook formats it (black, at the version the pin's .pre-commit-config.yaml names).
"""

from __future__ import annotations


import pytest

from npu_overlay.engine.patch_files import extract, overlay_dir
from npu_overlay.engine.series import load_series

OVERLAY = overlay_dir()

BLACK_VERSION = "24.4.2"  # rev of psf/black in the pin's .pre-commit-config.yaml
LICENCE_LINES = (
    '# Licensed under the Apache License, Version 2.0 (the "License");',
    "#    http://www.apache.org/licenses/LICENSE-2.0",
)
FORWARDED = [p for p in load_series(OVERLAY).patches if p.forwarded is not None]


def new_python_files(patch) -> list[str]:
    lines = patch.data.decode("utf-8").splitlines()
    return [lines[i - 3].split(" b/", 1)[1] for i, line in enumerate(lines)
            if line == "--- /dev/null" and lines[i + 1].endswith(".py") and lines[i - 2].startswith("new file")]


def test_some_patches_are_marked_for_upstream():
    assert FORWARDED, "no patch in the series carries a Forwarded: field"
    assert all(p.bugs for p in FORWARDED), [p.name for p in FORWARDED if not p.bugs]


@pytest.mark.parametrize("patch", FORWARDED, ids=lambda p: p.name[:4])
def test_new_files_carry_the_licence_and_black_formatting(patch, tmp_path):
    import black

    assert black.__version__ == BLACK_VERSION
    files = new_python_files(patch)
    for name in files:
        source = extract(name, tmp_path).read_text(encoding="utf-8")
        head = source.splitlines()[:13]
        assert head[0].startswith("# Copyright (c) ") and "PaddlePaddle Authors" in head[0], name
        assert all(line in head for line in LICENCE_LINES), name
        assert black.format_str(source, mode=black.Mode()) == source, f"{name} is not black-formatted"
