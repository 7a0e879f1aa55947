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
