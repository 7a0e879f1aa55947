"""An overlay directory: the ordered `series` file and the format-patch files it names."""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput

SERIES = "series"
# what format-patch names its files, and what --refresh writes: NNNN-subject.patch
PATCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\.patch")
MBOX_SEPARATOR = re.compile(rb"^From [0-9a-f]{40} ", re.MULTILINE)
SUBJECT_PREFIX = re.compile(r"^(\s*\[[^\]]*\])+\s*")  # "[PATCH 2/3] x" -> "x", as git am does
# DEP-3 style fields, as trailers in the message's last paragraph: which bug a patch answers
# and whether it was sent upstream ("no", "not-needed", or where it was sent)
META_FIELD = re.compile(r"^(?P<key>Bug|Forwarded):[ \t]*(?P<value>\S.*?)\s*$")
FORWARDED_WORDS = ("no", "not-needed")


@dataclass(frozen=True)
class Patch:
    path: Path
    author_name: str
    author_email: str
    subject: str
    data: bytes
    bugs: tuple[str, ...] = ()  # Bug: lines, in order
    forwarded: str | None = None  # Forwarded: no | not-needed | URL

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Series:
    directory: Path
    patches: tuple[Patch, ...]

    def digest(self) -> str:
        """Names and bytes of every patch, in order: any edit to the overlay changes it."""
        h = hashlib.sha256()
        for patch in self.patches:
            h.update(patch.name.encode() + b"\0" + hashlib.sha256(patch.data).digest())
        return h.hexdigest()


def read_series_names(directory: Path) -> list[str]:
    """The patch file names listed in `series`, in order (comments and blank lines skipped)."""
    if not directory.is_dir():
        raise BadInput(f"{directory}: overlay directory not found")
    series_file = directory / SERIES
    if not series_file.is_file():
        raise BadInput(f"{series_file}: series file not found")
    names: list[str] = []
    for number, raw in enumerate(series_file.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not PATCH_NAME.fullmatch(line):
            raise BadInput(
                f"{series_file}:{number}: expected one patch file name (NNNN-subject.patch), got {line!r}"
            )
        if line in names:
            raise BadInput(f"{series_file}:{number}: {line} is listed twice")
        names.append(line)
    return names


def load_series(directory: Path) -> Series:
    """The series ready to apply: non-empty, every file present and a well-formed patch."""
    names = read_series_names(directory)
    if not names:
        raise BadInput(
            f"{directory / SERIES}: the series is empty: no patch to apply "
            "(use --pin-only to check out the bare pin and author the first patch)"
        )
    return Series(directory, tuple(parse_patch(directory / name) for name in names))


def empty_series(directory: Path) -> Series:
    return Series(directory, ())


def parse_patch(path: Path) -> Patch:
    """One commit in `git format-patch` form: author, subject, rationale, and a diff."""
    if not path.is_file():
        raise BadInput(f"{path}: listed in the series but not found")
    data = path.read_bytes()
    if len(MBOX_SEPARATOR.findall(data)) > 1:
        raise BadInput(f"{path}: holds several commits; the series wants one patch per file")
    message = email.message_from_bytes(data, policy=email.policy.default)
    if "From" not in message or "Subject" not in message:
        raise BadInput(f"{path}: not a git format-patch file (no From:/Subject: header)")
    name, address = email.utils.parseaddr(str(message["From"]))
    if not name or "@" not in address:
        raise BadInput(f"{path}: From: must name the author as 'Name <email>', got {message['From']!r}")
    subject = SUBJECT_PREFIX.sub("", " ".join(str(message["Subject"]).split()))
    if not subject:
        raise BadInput(f"{path}: empty Subject:")
    body = message.get_payload(decode=True) or b""
    rationale, separator, diff = (b"\n" + body).partition(b"\n---\n")
    if not separator:
        rationale, separator, diff = body.partition(b"diff --git ")
        diff = separator + diff
    if not rationale.strip():
        raise BadInput(f"{path}: no rationale: say why between the Subject: and the '---' line")
    if not re.search(rb"^diff --git ", diff, re.MULTILINE):
        raise BadInput(f"{path}: contains no 'diff --git' section")
    bugs, forwarded = _meta_fields(path, rationale.decode("utf-8", "replace"))
    return Patch(path, name, address, subject, data, bugs, forwarded)


def _meta_fields(path: Path, rationale: str) -> tuple[tuple[str, ...], str | None]:
    """Bug: and Forwarded: from the rationale's last paragraph (where git keeps trailers)."""
    last = rationale.strip().split("\n\n")[-1]
    bugs: list[str] = []
    forwarded: list[str] = []
    for line in last.splitlines():
        match = META_FIELD.match(line)
        if match:
            (bugs if match["key"] == "Bug" else forwarded).append(match["value"])
    if len(forwarded) > 1:
        raise BadInput(f"{path}: Forwarded: given {len(forwarded)} times; one patch is sent once")
    if forwarded and forwarded[0] not in FORWARDED_WORDS and not re.match(r"https?://\S+$", forwarded[0]):
        raise BadInput(f"{path}: Forwarded: must be 'no', 'not-needed' or the URL it was sent to, "
                           f"got {forwarded[0]!r}")
    return tuple(bugs), forwarded[0] if forwarded else None


def write_series(directory: Path, names: list[str]) -> None:
    """Rewrite `series` with new entries, keeping its leading comment block (the format notes)."""
    series_file = directory / SERIES
    header: list[str] = []
    if series_file.is_file():
        for line in series_file.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                break
            header.append(line)
    while header and not header[-1].strip():
        header.pop()
    lines = header + ([""] if header else []) + names
    series_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
