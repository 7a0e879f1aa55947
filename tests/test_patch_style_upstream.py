"""Every file a patch meant for upstream adds or changes passes upstream's own pre-commit checks,
as the pin's .pre-commit-config.yaml runs them on Python files: black, flake8 with the hook's
arguments, trailing whitespace, end of file, no tabs and no CRLF. Run on the patched tree with
the hooks' own tools at the config's versions (no network: pre-commit itself cannot fetch them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from npu_overlay.engine.patch_files import overlay_dir
from npu_overlay.engine.series import load_series

pytestmark = pytest.mark.upstream

FORWARDED = [p for p in load_series(overlay_dir()).patches if p.forwarded is not None]


def touched_python_files(patch) -> list[str]:
    return sorted({line[len("+++ b/"):] for line in patch.data.decode("utf-8").splitlines()
                   if line.startswith("+++ b/") and line.endswith(".py")})


def hook(config: dict, hook_id: str) -> tuple[str, dict]:
    """(rev, hook) of the pin's pre-commit config."""
    for repo in config["repos"]:
        for h in repo["hooks"]:
            if h["id"] == hook_id:
                return repo.get("rev"), h
    raise LookupError(hook_id)


@pytest.fixture(scope="module")
def precommit(patched_tree):
    return yaml.safe_load((patched_tree / ".pre-commit-config.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("patch", FORWARDED, ids=lambda p: p.name[:4])
def test_touched_files_pass_upstreams_pre_commit_checks(patch, patched_tree, precommit, tmp_path):
    import black
    import flake8

    files = touched_python_files(patch)
    if not files:
        return  # a patch of configs or packaging only
    black_rev, _ = hook(precommit, "black")
    flake8_rev, flake8_hook = hook(precommit, "flake8")
    assert black.__version__ == black_rev and flake8.__version__ == flake8_rev
    for name in files:
        source = (patched_tree / name).read_text(encoding="utf-8")
        assert black.format_str(source, mode=black.Mode()) == source, f"{name} is not black-formatted"
        assert "\t" not in source and "\r" not in source, f"{name} has tabs or CRLF"
    proc = subprocess.run([sys.executable, "-m", "flake8", *flake8_hook["args"], *files], cwd=patched_tree,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    # the fixers rewrite a file that needs fixing and exit 1: run them on copies
    copies = []
    for name in files:
        copies.append(tmp_path / name.replace("/", "__"))
        shutil.copy(patched_tree / name, copies[-1])
    for fixer in ("trailing_whitespace_fixer", "end_of_file_fixer"):
        proc = subprocess.run([sys.executable, "-m", f"pre_commit_hooks.{fixer}", *map(str, copies)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{fixer}: {proc.stdout}"
