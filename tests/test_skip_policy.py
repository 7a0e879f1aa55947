"""The suite's skip policy (tests/conftest.py), run on a real pytest session in a subprocess:
only an `upstream`-marked test without PADDLEOCR_UPSTREAM, or an `npu`-marked one without an
NPU, may skip; any other skip fails the run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TESTS = '''
import pytest

def test_plain_skip():
    pytest.skip("kernel list not found")

@pytest.mark.upstream
def test_upstream_skip():
    pytest.skip("no upstream tree")

@pytest.fixture
def needs_something():
    pytest.skip("fixture could not find its input")

def test_skip_in_a_fixture(needs_something):
    pass

def test_runs():
    assert True
'''


def _run(tmp_path, upstream: str | None) -> dict[str, str]:
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    upstream: u\n    npu: n\n")
    env = {k: v for k, v in os.environ.items() if k != "PADDLEOCR_UPSTREAM"}
    if upstream:
        env["PADDLEOCR_UPSTREAM"] = upstream
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-v", "-p", "no:cacheprovider",
                           "test_sample.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    # verbose lines: "test_sample.py::test_NAME OUTCOME ..."
    outcomes = dict(re.findall(r"^test_sample\.py::test_(\w+) ([A-Z]+)", proc.stdout, re.M))
    assert proc.returncode == 1, proc.stdout[-3000:]
    return outcomes


def test_only_the_allowed_skips_pass(tmp_path):
    assert _run(tmp_path, upstream=None) == {
        "plain_skip": "FAILED", "upstream_skip": "SKIPPED", "skip_in_a_fixture": "ERROR", "runs": "PASSED"}


def test_a_module_skipped_at_import_fails_the_run(tmp_path):
    (tmp_path / "test_sample.py").write_text("import pytest\npytest.importorskip('no_such_module_here')\n"
                                             "def test_x():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "PADDLEOCR_UPSTREAM"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "test_sample.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "skipped at collection" in proc.stdout and "no_such_module_here" in proc.stdout


def test_upstream_tests_may_not_skip_when_an_upstream_is_given(tmp_path):
    assert _run(tmp_path, upstream=str(tmp_path))["upstream_skip"] == "FAILED"
