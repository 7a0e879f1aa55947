"""Fixture upstreams for the overlay engine: small real git histories built with GitPython.

The upstream has four commits; the third is the pin, the fourth moves upstream on and
changes a line the overlay's second patch touches (to provoke drift). Like the real
mirror, it lacks a blob outside the sparse paths: `assets/logo.bin` is deleted from the
object store, so only a partial, sparse checkout of it can work.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from git import Actor, Repo

UPSTREAM_AUTHOR = Actor("Upstream Dev", "upstream@example.org")
PATCH_AUTHORS = {
    "0001": Actor("Ann Overlay", "ann@example.org"),
    "0002": Actor("Bob Overlay", "bob@example.org"),
}
# the DEP-3 style fields patch 0002's message ends with
FIXTURE_BUGS = ("https://example.org/upstream/issues/7", "overlay#3")
CORE_V1 = "".join(f"def step_{i}(x):\n    return x + {i}\n\n" for i in range(8))


@dataclass(frozen=True)
class Upstream:
    work: Path  # a working clone (non-bare) holding the history
    bare: Path  # a bare mirror of the same history
    commits: tuple[str, ...]  # oldest first
    missing_blob: str

    @property
    def pin(self) -> str:
        return self.commits[2]

    @property
    def after_pin(self) -> str:
        return self.commits[3]


def _commit(repo: Repo, files: dict[str, bytes | str], message: str) -> str:
    root = Path(repo.working_tree_dir)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    repo.index.add(list(files))
    return repo.index.commit(message, author=UPSTREAM_AUTHOR, committer=UPSTREAM_AUTHOR).hexsha


@pytest.fixture(scope="session")
def upstream(tmp_path_factory) -> Upstream:
    work = tmp_path_factory.mktemp("upstream") / "work"
    repo = Repo.init(work, initial_branch="main")
    logo = bytes(range(256)) * 64  # binary, outside the sparse paths
    commits = [
        _commit(
            repo,
            {
                "setup.py": "from setuptools import setup\nsetup(name='pkg')\n",
                ".gitignore": "__pycache__/\n",
                "pkg/__init__.py": "",
                "pkg/core.py": CORE_V1,
                "pkg/docs/manual.md": "# manual\n",
                "docs/guide.md": "# guide\n",
                "assets/logo.bin": logo,
            },
            "Initial import",
        ),
        _commit(repo, {"pkg/core.py": CORE_V1.replace("x + 3", "x + 30")}, "Tune step 3"),
        _commit(repo, {"pkg/util.py": "LIMIT = 501\n", "docs/guide.md": "# guide\n\nv2\n"}, "Add util"),
        _commit(repo, {"pkg/util.py": "LIMIT = 512\n"}, "Raise the limit"),
    ]
    missing = repo.commit(commits[0]).tree["assets/logo.bin"].hexsha
    bare = work.parent / "mirror.git"
    shutil.copytree(Path(repo.git_dir), bare)
    Repo(bare).config_writer().set_value("core", "bare", "true").release()
    for git_dir in (Path(repo.git_dir), bare):
        (git_dir / "objects" / missing[:2] / missing[2:]).unlink()
    status, _, _ = Repo(bare).git.cat_file("-e", missing, with_exceptions=False, with_extended_output=True)
    assert status != 0, "the fixture mirror must lack the binary blob, like the real one"
    return Upstream(work, bare, tuple(commits), missing)


def write_lock(path: Path, url: str, commit: str, overlay: str = "overlay", **extra) -> Path:
    paths = extra.pop("paths", ["pkg", "setup.py", ".gitignore"])
    exclude = extra.pop("exclude", ["pkg/docs"])
    text = (
        "[upstream]\n"
        f"url = {url!r}\n"
        f"commit = {commit!r}\n"
        "description = 'fixture upstream'\n\n"
        "[overlay]\n"
        f"path = {overlay!r}\n\n"
        "[checkout]\n"
        f"paths = {paths!r}\n"
        f"exclude = {exclude!r}\n"
    )
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def fixture_patches(upstream, tmp_path_factory) -> Path:
    """Two patches against the pin, made the way a developer would: commits, then format-patch.

    0001 changes pkg/core.py; 0002 changes pkg/util.py (which upstream changes after the pin)
    and adds a new file.
    """
    import apply

    base = tmp_path_factory.mktemp("authoring")
    lock = write_lock(base / "upstream.lock", str(upstream.bare), upstream.pin)
    (base / "overlay").mkdir()
    tree = base / "tree"
    assert apply.main(["--lock", str(lock), "--tree", str(tree), "--pin-only", "--upstream", str(upstream.bare)]) == 0
    repo = Repo(tree)
    core = tree / "pkg" / "core.py"
    core.write_text(core.read_text().replace("x + 5", "x + 5  # npu: static shape"))
    repo.index.add(["pkg/core.py"])
    repo.index.commit(
        "Keep step 5 static-shaped\n\nThe NPU recompiles on every new shape; step 5 now keeps one.\n",
        author=PATCH_AUTHORS["0001"],
        committer=PATCH_AUTHORS["0001"],
    )
    (tree / "pkg" / "util.py").write_text("LIMIT = 501  # the decoder's trip count\n")
    (tree / "pkg" / "npu.py").write_text("def on_npu():\n    return False\n")
    repo.index.add(["pkg/util.py", "pkg/npu.py"])
    repo.index.commit(
        "Add an NPU probe\n\nCallers need to know whether they run on an NPU before building the graph.\n\n"
        f"Bug: {FIXTURE_BUGS[0]}\nBug: {FIXTURE_BUGS[1]}\nForwarded: no\n",
        author=PATCH_AUTHORS["0002"],
        committer=PATCH_AUTHORS["0002"],
    )
    out = base / "patches"
    repo.git.format_patch("-o", str(out), f"{upstream.pin}..HEAD")
    names = sorted(p.name for p in out.iterdir())
    assert [n[:4] for n in names] == ["0001", "0002"]
    (out / "series").write_text("# fixture series\n" + "\n".join(names) + "\n")
    return out


@pytest.fixture
def project(tmp_path, upstream, fixture_patches):
    """A project folder: lock at the pin, a copy of the fixture overlay, and where the tree goes."""
    shutil.copytree(fixture_patches, tmp_path / "overlay")
    return Project(tmp_path, write_lock(tmp_path / "upstream.lock", str(upstream.bare), upstream.pin))


@dataclass
class Project:
    root: Path
    lock: Path

    @property
    def overlay(self) -> Path:
        return self.root / "overlay"

    @property
    def tree(self) -> Path:
        return self.root / "build" / "tree"

    def args(self, *extra: str) -> list[str]:
        return ["--lock", str(self.lock), "--tree", str(self.tree), *extra]

    def series(self) -> list[str]:
        lines = (self.overlay / "series").read_text().splitlines()
        return [line for line in lines if line and not line.startswith("#")]
