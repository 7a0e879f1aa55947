"""Shared fixtures: the real models (downloaded and verified once, cached outside the repo)
and the optional upstream source that `upstream`-marked tests need."""

from __future__ import annotations

import os

import pytest


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
    from tools.model_cache import model_dir

    return model_dir("slanet_plus")


@pytest.fixture(scope="session")
def pin_tree(upstream_source, tmp_path_factory):
    """The pinned upstream commit's code, checked out by the overlay engine (no patches)."""
    from tools.pipeline.pristine import build_tree

    return build_tree(tmp_path_factory.mktemp("pin") / "PaddleOCR", upstream_source, pin_only=True)


@pytest.fixture(scope="session")
def patched_tree(upstream_source, tmp_path_factory):
    """The pin plus this repository's overlay series, as `python apply.py` builds it."""
    from tools.pipeline.pristine import build_tree

    return build_tree(tmp_path_factory.mktemp("patched") / "PaddleOCR", upstream_source, pin_only=False)


@pytest.fixture(scope="session")
def fixed_head_export(slanet_plus_dir, tmp_path_factory):
    """Patch 0001's decoder with SLANet_plus's head weights, exported with the fixed decode
    (501 unrolled steps, input [1, 256, 96]): one export per session, it takes ~30 s."""
    from static_head import export_head

    return export_head(slanet_plus_dir, tmp_path_factory.mktemp("fixed_head"), "fixed", 1)
