"""Every patch is a pull request of its own: it applies to the pin with only the patches its
message declares (``Depends-on:`` trailers) and what those declare, in series order; a patch that declares none
applies to the pin alone. Checked with git on a pristine tree of the pin."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from npu_overlay.engine.patch_files import overlay_dir, series_files

OVERLAY = overlay_dir()

DEPENDS_ON = re.compile(r"^Depends-on: (\S+\.patch)$", re.MULTILINE)
SERIES = [patch.name for patch in series_files()]


def declared(name: str) -> list[str]:
    message = (OVERLAY / name).read_text(encoding="utf-8").split("\n---\n", 1)[0]
    return DEPENDS_ON.findall(message)


def prerequisites(name: str) -> set[str]:
    """What a patch needs, directly or through the patches it needs."""
    found: set[str] = set()
    for needed in declared(name):
        found |= {needed} | prerequisites(needed)
    return found


def test_declared_prerequisites_come_earlier_in_the_series():
    for position, name in enumerate(SERIES):
        for needed in declared(name):
            assert needed in SERIES[:position], f"{name} depends on {needed}, which does not come before it"


@pytest.mark.upstream
@pytest.mark.parametrize("name", SERIES)
def test_patch_applies_with_only_what_it_declares(name, pin_tree, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(pin_tree, tree, symlinks=True)
    for patch in [n for n in SERIES if n in prerequisites(name)] + [name]:
        proc = subprocess.run(["git", "apply", str(OVERLAY / patch)], cwd=tree, capture_output=True, text=True)
        assert proc.returncode == 0, f"{patch} (for {name}): {proc.stderr.strip()}"
