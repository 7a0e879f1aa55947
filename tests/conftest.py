"""Shared fixtures: the real models (downloaded and verified once, cached outside the repo)
and the optional upstream source that `upstream`-marked tests need.

Only two skips are allowed (README, Tests): an `upstream`-marked test without
PADDLEOCR_UPSTREAM, and an `npu`-marked test on a host without an NPU. Any other skip is
turned into a failure here, so a test that could run on this machine never passes by skipping.
"""

from __future__ import annotations

import importlib.util
import os

import pytest


def npu_available() -> bool:
    """paddle-custom-npu is installed and Paddle sees an `npu` device."""
    if importlib.util.find_spec("paddle_custom_device") is None:
        return False
    import paddle

    return "npu" in paddle.device.get_all_custom_device_type()


def allowed_skip(item) -> str | None:
    """Why ``item`` may skip on this machine, or None when it must run."""
    if item.get_closest_marker("upstream") and not os.environ.get("PADDLEOCR_UPSTREAM"):
        return "upstream-marked test without PADDLEOCR_UPSTREAM"
    if item.get_closest_marker("npu") and not npu_available():
        return "npu-marked test without an NPU"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A whole module skipped at import (pytest.skip(allow_module_level=True), importorskip)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and allowed_skip(collector) is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{collector.nodeid} skipped at collection ({reason}), but it can run here: only "
                           "upstream-marked tests without PADDLEOCR_UPSTREAM and npu-marked tests without an NPU "
                           "may skip")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and allowed_skip(item) is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} skipped ({reason}), but it can run here: only upstream-marked tests "
                           "without PADDLEOCR_UPSTREAM and npu-marked tests without an NPU may skip")


@pytest.fixture(scope="session")
def upstream_source() -> str:
    """URL or local path of an upstream PaddleOCR history holding the pinned commit."""
    source = os.environ.get("PADDLEOCR_UPSTREAM")
    if not source:
        pytest.skip("PADDLEOCR_UPSTREAM is not set: no upstream PaddleOCR history to build a tree from")
    return source


@pytest.fixture(scope="session")
def slanet_plus_dir():
    """The real SLANet_plus inference model exported by PaddleX from upstream's SLAHead."""
    from npu_overlay.model_cache import model_dir

    return model_dir("slanet_plus")


@pytest.fixture(scope="session")
def pin_tree(upstream_source, tmp_path_factory):
    """The pinned upstream commit's code, checked out by the overlay engine (no patches)."""
    from npu_overlay.pipeline.pristine import build_tree

    return build_tree(tmp_path_factory.mktemp("pin") / "PaddleOCR", upstream_source, pin_only=True)


@pytest.fixture(scope="session")
def patched_tree(upstream_source, tmp_path_factory):
    """The pin plus this repository's overlay series, as `python apply.py` builds it."""
    from npu_overlay.pipeline.pristine import build_tree

    return build_tree(tmp_path_factory.mktemp("patched") / "PaddleOCR", upstream_source, pin_only=False)


@pytest.fixture(scope="session")
def fixed_head_export(slanet_plus_dir, tmp_path_factory):
    """Patch 0001's decoder with SLANet_plus's head weights, exported loop-free (fixed decode,
    every one of the 501 steps unrolled; input [1, 256, 96]): one export per session, ~20 s."""
    from table_head_layers import export_head

    return export_head(slanet_plus_dir, tmp_path_factory.mktemp("fixed_head"), "fixed", "all")


@pytest.fixture(scope="session")
def npu_device() -> str:
    """The first Ascend NPU, for `npu`-marked tests."""
    if not npu_available():
        pytest.skip("no NPU here: paddle-custom-npu is not installed or Paddle sees no npu device")
    return "npu:0"


@pytest.fixture(scope="module")
def scratch_tree(tmp_path_factory):
    """Patch 0009's NPU preflight module (and the loader it imports) outside any upstream tree."""
    from npu_preflight import scratch_tree_at

    return scratch_tree_at(tmp_path_factory.mktemp("preflight"))
