"""The release record of the drop-in wheel: which pin + series became `+npu.<N>`.

`overlay/<line>/releases.toml` lists every release, oldest first. A wheel's local version
comes from here, never from the command line, so `+npu.3` names one pin and one series
wherever it is built. `apply.py --wheel --new-release` appends the next entry; the file is
committed with the series it describes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput, OverlayError
from .lock import FULL_SHA, Lock, tomllib
from .series import Series

RELEASES = "releases.toml"
DIGEST = re.compile(r"[0-9a-f]{64}")
HEADER = """\
# Releases of the drop-in wheel built by `python apply.py --wheel`:
# paddleocr-<upstream VERSION_NUMBER>+npu.<number>, from exactly this upstream commit and
# patch series (sha256 of every patch's name and bytes, in order, as apply.py computes it).
# `python apply.py --wheel --new-release` appends an entry; do not edit entries by hand.
"""


@dataclass(frozen=True)
class Release:
    number: int
    upstream: str
    series: str


def releases_path(lock: Lock) -> Path:
    return lock.overlay_dir / RELEASES


def load_releases(path: Path) -> list[Release]:
    """Every recorded release, oldest first; [] when there is no record yet."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    found: list[Release] = []
    for index, entry in enumerate(data.get("release") or [], 1):
        number, upstream, series = entry.get("number"), entry.get("upstream"), entry.get("series")
        if (
            set(entry) != {"number", "upstream", "series"}
            or not isinstance(number, int)
            or not FULL_SHA.fullmatch(str(upstream))
            or not DIGEST.fullmatch(str(series))
        ):
            raise BadInput(
                f"{path}: release entry {index} must be number (integer), upstream (40 hex) and series (64 hex)"
            )
        if found and number != found[-1].number + 1:
            raise BadInput(f"{path}: release {number} follows {found[-1].number}; numbers go up by one")
        found.append(Release(number, upstream, series))
    return found


def find_release(releases: list[Release], lock: Lock, series: Series) -> Release | None:
    digest = series.digest()
    return next((r for r in releases if r.upstream == lock.commit and r.series == digest), None)


def current_release(lock: Lock, series: Series) -> Release:
    """The recorded release of this pin + series, or a refusal saying how to record one."""
    path = releases_path(lock)
    releases = load_releases(path)
    release = find_release(releases, lock, series)
    if release is None:
        latest = f"latest: npu.{releases[-1].number}" if releases else "none recorded yet"
        raise OverlayError(
            f"upstream {lock.short} + series sha256:{series.digest()[:12]} is no release in {path} ({latest}); "
            "record it with --wheel --new-release and commit the file"
        )
    return release


def record_release(lock: Lock, series: Series) -> Release:
    """Append this pin + series as the next release (nothing to do when it is recorded)."""
    path = releases_path(lock)
    releases = load_releases(path)
    existing = find_release(releases, lock, series)
    if existing:
        return existing
    release = Release(releases[-1].number + 1 if releases else 1, lock.commit, series.digest())
    text = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    text += (
        f"\n[[release]]\nnumber = {release.number}\n"
        f'upstream = "{release.upstream}"\nseries = "{release.series}"\n'
    )
    path.write_text(text, encoding="utf-8")
    return release
