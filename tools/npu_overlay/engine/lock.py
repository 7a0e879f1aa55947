"""Read and validate upstream.lock: which upstream commit, which overlay, which paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import BadInput

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.9/3.10
    import tomli as tomllib

FULL_SHA = re.compile(r"[0-9a-f]{40}")

# table -> {key: (type, required)}; anything else in the file is an error, so a typo
# ("comit", "exclud") cannot silently fall back to a default
SCHEMA = {
    "upstream": {"url": (str, True), "commit": (str, True), "description": (str, True)},
    "overlay": {"path": (str, True)},
    "checkout": {"paths": (list, True), "exclude": (list, False)},
}


@dataclass(frozen=True)
class Lock:
    path: Path  # the lock file itself
    url: str
    commit: str
    description: str
    overlay_dir: Path  # absolute: resolved against the lock file's folder
    paths: tuple[str, ...]
    exclude: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.commit[:12]

    def sparse_patterns(self) -> list[str]:
        """Non-cone sparse-checkout patterns: anchored includes, then the excludes."""
        return [f"/{p}" for p in self.paths] + [f"!/{p}" for p in self.exclude]

    def identity(self) -> str:
        """What of the lock decides the built tree (the URL does not: the pin is content-addressed)."""
        return "\n".join([self.commit, *self.sparse_patterns()])


def load_lock(path: Path) -> Lock:
    if not path.is_file():
        raise BadInput(f"{path}: lock file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    _check_schema(path, data)
    up, checkout = data["upstream"], data["checkout"]

    commit = up["commit"]
    if not FULL_SHA.fullmatch(commit):
        raise BadInput(
            f"{path}: upstream.commit must be a full 40-character lowercase hex commit id, got {commit!r}"
        )
    for key in ("url", "description"):
        if not up[key].strip():
            raise BadInput(f"{path}: upstream.{key} is empty")
    paths = _repo_paths(path, "checkout.paths", checkout["paths"])
    if not paths:
        raise BadInput(f"{path}: checkout.paths is empty: nothing would be checked out")
    exclude = _repo_paths(path, "checkout.exclude", checkout.get("exclude", []))
    overlay = _repo_paths(path, "overlay.path", [data["overlay"]["path"]])[0]

    return Lock(
        path=path,
        url=up["url"].strip(),
        commit=commit,
        description=up["description"].strip(),
        overlay_dir=(path.parent / overlay).resolve(),
        paths=paths,
        exclude=exclude,
    )


def _check_schema(path: Path, data: dict) -> None:
    for table in data:
        if table not in SCHEMA:
            raise BadInput(f"{path}: unknown table [{table}] (expected {', '.join(SCHEMA)})")
    for table, keys in SCHEMA.items():
        if not isinstance(data.get(table), dict):
            raise BadInput(f"{path}: missing table [{table}]")
        for key in data[table]:
            if key not in keys:
                raise BadInput(f"{path}: unknown key {table}.{key} (expected {', '.join(keys)})")
        for key, (kind, required) in keys.items():
            if key not in data[table]:
                if required:
                    raise BadInput(f"{path}: missing {table}.{key}")
                continue
            if not isinstance(data[table][key], kind):
                raise BadInput(f"{path}: {table}.{key} must be a {kind.__name__}")


def _repo_paths(path: Path, key: str, values: list) -> tuple[str, ...]:
    """Plain relative paths inside a repository: no globs, no '..', no absolute paths."""
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not value.strip("/ "):
            raise BadInput(f"{path}: {key} entries must be non-empty strings, got {value!r}")
        posix = PurePosixPath(value.strip("/"))
        if value.startswith("/") or ".." in posix.parts or any(c in value for c in "*?[]!\\"):
            raise BadInput(f"{path}: {key} entry {value!r} must be a plain relative path")
        cleaned.append(str(posix))
    return tuple(cleaned)
