"""Fixture: a checkout of the pinned upstream commit's code, for `upstream`-marked tests.

Sparse, because the history the tests get may lack a few blobs outside the code folders
(fonts, docs). Built once per session from the `upstream_source` fixture.
"""

from __future__ import annotations

import os

import git
import pytest

# the commit upstream.lock pins (2024-07-26, the 2.8.x line)
PIN = "d1583d4e08a9b3d7805a9f73b7b758bec258d4c9"
CODE_DIRS = ["ppocr", "tools", "configs", "ppstructure/table"]


@pytest.fixture(scope="session")
def pin_tree(upstream_source, tmp_path_factory):
    target = tmp_path_factory.mktemp("upstream") / "PaddleOCR"
    local = os.path.isdir(upstream_source)
    # a local mirror is borrowed from (no copy); a URL is fetched without blobs until checkout needs them
    options = {"shared": True} if local else {"filter": "blob:none"}
    repo = git.Repo.clone_from(upstream_source, target, no_checkout=True, **options)
    repo.git.sparse_checkout("set", "--cone", *CODE_DIRS)
    repo.git.checkout(PIN)
    return target
