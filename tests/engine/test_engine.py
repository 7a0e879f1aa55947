"""The overlay engine end to end on fixture upstreams (offline, a few seconds)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from git import Actor, Repo

import apply
from fixture_upstream import FIXTURE_BUGS, PATCH_AUTHORS, write_lock

ROOT = Path(apply.__file__).resolve().parent
DEVELOPER = Actor("Carol Porter", "carol@example.org")


@pytest.fixture(autouse=True)
def no_upstream_from_environment(monkeypatch):
    """These tests name their upstream explicitly; a developer's PADDLEOCR_UPSTREAM must not leak in."""
    monkeypatch.delenv("PADDLEOCR_UPSTREAM", raising=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = apply.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("apply.py: error: "), err
    assert "Traceback" not in err
    return lines[0]


def commits_over(repo: Repo, base: str) -> list:
    return list(reversed(list(repo.iter_commits(f"{base}..HEAD"))))


def developer_commit(tree: Path, files: dict[str, str], message: str) -> str:
    repo = Repo(tree)
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    repo.index.add(list(files))
    return repo.index.commit(message, author=DEVELOPER, committer=DEVELOPER).hexsha


# --- building -------------------------------------------------------------------------


def test_build_checks_out_the_pin_and_applies_each_patch_as_a_commit(capsys, project, upstream):
    code, out, _ = run(capsys, *project.args())
    assert code == 0, out
    repo = Repo(project.tree)
    assert repo.active_branch.name == "npu-overlay"
    commits = commits_over(repo, upstream.pin)
    assert repo.commit("HEAD~2").hexsha == upstream.pin
    patches = [(project.overlay / name).read_text() for name in project.series()]
    for commit, patch, number in zip(commits, patches, ("0001", "0002")):
        assert (commit.author.name, commit.author.email) == (PATCH_AUTHORS[number].name, PATCH_AUTHORS[number].email)
        assert f"Subject: [PATCH] {commit.summary}" in patch or f"Subject: [PATCH {number[-1]}/2] {commit.summary}" in patch
        assert commit.message.split("\n\n", 1)[1].strip() in patch  # the rationale travels with the commit
    assert len(commits) == 2
    # the pin, not upstream's tip: the line upstream changed after the pin is the patch's version
    assert (project.tree / "pkg/util.py").read_text() == "LIMIT = 501  # the decoder's trip count\n"
    assert (project.tree / "pkg/npu.py").is_file()  # new files come from patches
    # sparse: only the lock's paths, minus its excludes (the blob the mirror lacks is never needed)
    assert sorted(p.name for p in project.tree.iterdir() if p.name != ".git") == [".gitignore", "pkg", "setup.py"]
    assert not (project.tree / "pkg/docs").exists()


def test_the_same_pin_and_series_give_the_same_commit_ids_anywhere(capsys, project, tmp_path):
    """Committer = patch author at the patch date: builds are reproducible, and need no git identity."""
    assert run(capsys, *project.args())[0] == 0
    other = tmp_path / "elsewhere" / "tree"
    assert run(capsys, "--lock", str(project.lock), "--tree", str(other))[0] == 0
    assert Repo(other).head.commit.hexsha == Repo(project.tree).head.commit.hexsha


@pytest.mark.parametrize("kind", ["bare path", "working clone", "file URL", "environment"])
def test_any_source_holding_the_pin_will_do(capsys, project, upstream, monkeypatch, kind):
    write_lock(project.lock, "https://example.invalid/not-used.git", upstream.pin)
    source = {
        "bare path": str(upstream.bare),
        "working clone": str(upstream.work),
        "file URL": upstream.bare.as_uri(),
        "environment": str(upstream.work),
    }[kind]
    if kind == "environment":
        monkeypatch.setenv("PADDLEOCR_UPSTREAM", source)
        code, out, err = run(capsys, *project.args())
    else:
        code, out, err = run(capsys, *project.args("--upstream", source))
    assert code == 0, err
    assert Repo(project.tree).commit("HEAD~2").hexsha == upstream.pin


def test_upstream_option_beats_the_environment(capsys, project, upstream, monkeypatch):
    monkeypatch.setenv("PADDLEOCR_UPSTREAM", str(project.root / "nowhere"))
    code, _, err = run(capsys, *project.args("--upstream", str(upstream.bare)))
    assert code == 0, err


def test_a_source_without_the_pinned_commit_is_refused(capsys, project, upstream, tmp_path):
    # a real history that simply does not hold the pin: a clone of the pin's first parent
    other = Repo.init(tmp_path / "other", initial_branch="main")
    (tmp_path / "other/x").write_text("x\n")
    other.index.add(["x"])
    other.index.commit("unrelated", author=DEVELOPER, committer=DEVELOPER)
    code, _, err = run(capsys, *project.args("--upstream", str(tmp_path / "other")))
    assert code == 2
    assert f"does not have commit {upstream.pin}" in one_error_line(err)
    assert not project.tree.exists()  # a refused first build leaves nothing behind


def test_a_pin_that_is_no_commit_anywhere_is_refused(capsys, project, upstream):
    write_lock(project.lock, str(upstream.bare), "0123456789abcdef0123456789abcdef01234567")
    code, _, err = run(capsys, *project.args())
    assert code == 2
    assert "does not have commit 0123456789abcdef0123456789abcdef01234567" in one_error_line(err)


def test_rerun_with_nothing_changed_is_a_no_op_and_says_so(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    head = Repo(project.tree).head.commit.hexsha
    # the source is not even consulted: nothing to fetch, nothing to rebuild
    code, out, err = run(capsys, *project.args("--upstream", str(project.root / "gone")))
    assert code == 0, err
    assert "up to date" in out and "nothing to do" in out
    assert Repo(project.tree).head.commit.hexsha == head


def test_a_changed_series_rebuilds_the_branch_from_the_pin(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    first, second = project.series()
    (project.overlay / "series").write_text(first + "\n")
    code, out, err = run(capsys, *project.args())
    assert code == 0, err
    repo = Repo(project.tree)
    assert [c.summary for c in commits_over(repo, upstream.pin)] == ["Keep step 5 static-shaped"]
    assert not (project.tree / "pkg/npu.py").exists()
    # and an edited patch (same name, other bytes) rebuilds too
    (project.overlay / "series").write_text(f"{first}\n{second}\n")
    patch = project.overlay / second
    patch.write_text(patch.read_text().replace("return False", "return None"))
    assert run(capsys, *project.args())[0] == 0
    assert "return None" in (project.tree / "pkg/npu.py").read_text()


def test_a_changed_lock_rebuilds_the_tree(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    write_lock(project.lock, str(upstream.bare), upstream.pin, paths=["pkg", "setup.py", ".gitignore", "docs"])
    code, _, err = run(capsys, *project.args())
    assert code == 0, err
    assert (project.tree / "docs/guide.md").read_text() == "# guide\n\nv2\n"
    assert len(commits_over(Repo(project.tree), upstream.pin)) == 2


# --- drift ------------------------------------------------------------------------------


def test_drift_names_patch_file_and_hunk_and_keeps_the_last_good_commit(capsys, project, upstream):
    write_lock(project.lock, str(upstream.bare), upstream.after_pin)  # upstream moved on under patch 0002
    code, _, err = run(capsys, *project.args())
    assert code == 1
    line = one_error_line(err)
    second = project.series()[1]
    assert second in line and "pkg/util.py" in line and "@@ -1 +1 @@" in line
    repo = Repo(project.tree)
    assert [c.summary for c in commits_over(repo, upstream.after_pin)] == ["Keep step 5 static-shaped"]
    assert not repo.is_dirty(untracked_files=True)
    assert not (Path(repo.git_dir) / "rebase-apply").exists()
    # back on the right pin, the next run rebuilds without calling the leftovers somebody's work
    write_lock(project.lock, str(upstream.bare), upstream.pin)
    code, _, err = run(capsys, *project.args())
    assert code == 0, err
    assert len(commits_over(Repo(project.tree), upstream.pin)) == 2


def test_drift_in_the_first_patch_leaves_the_pin(capsys, project, upstream):
    first = project.overlay / project.series()[0]
    first.write_text(first.read_text().replace(" def step_5(x):", " def step_five(x):"))
    code, _, err = run(capsys, *project.args())
    assert code == 1
    assert first.name in one_error_line(err) and "pkg/core.py" in err
    repo = Repo(project.tree)
    assert repo.head.commit.hexsha == upstream.pin
    assert not repo.is_dirty(untracked_files=True)


# --- protecting work ----------------------------------------------------------------------


def test_uncommitted_edits_stop_the_run(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    core = project.tree / "pkg/core.py"
    core.write_text(core.read_text() + "# my edit\n")
    (project.tree / "pkg/scratch.py").write_text("x = 1\n")
    (project.overlay / "series").write_text(project.series()[0] + "\n")  # a rebuild is due
    code, _, err = run(capsys, *project.args())
    assert code == 1
    line = one_error_line(err)
    assert "uncommitted changes" in line and "pkg/core.py" in line and "pkg/scratch.py" in line
    assert core.read_text().endswith("# my edit\n") and (project.tree / "pkg/scratch.py").exists()
    # --force discards them and rebuilds
    code, out, err = run(capsys, *project.args("--force"))
    assert code == 0, err
    assert "# my edit" not in core.read_text() and not (project.tree / "pkg/scratch.py").exists()


def test_commits_made_in_the_tree_stop_the_run(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    mine = developer_commit(project.tree, {"pkg/extra.py": "y = 2\n"}, "My work")
    code, _, err = run(capsys, *project.args())  # nothing changed in the overlay, but the tree did
    assert code == 1
    assert "1 commit(s) made after apply.py built it" in one_error_line(err)
    assert Repo(project.tree).head.commit.hexsha == mine


# --- refresh and export -------------------------------------------------------------------


def test_refresh_writes_branch_commits_back_and_rebuilds_identically(capsys, project, upstream, tmp_path):
    assert run(capsys, *project.args())[0] == 0
    developer_commit(project.tree, {"pkg/npu_ops.py": "OPS = ()\n"}, "Add the NPU op list\n\nWhy: one place to list them.\n")
    built = Repo(project.tree).head.commit
    code, out, err = run(capsys, *project.args("--refresh"))
    assert code == 0, err
    names = project.series()
    assert [n[:5] for n in names] == ["0001-", "0002-", "0003-"] and names[2] == "0003-Add-the-NPU-op-list.patch"
    assert (project.overlay / "series").read_text().startswith("# fixture series\n")  # the header is kept
    assert sorted(p.name for p in project.overlay.iterdir()) == sorted(names + ["series"])  # no stale files
    # the refreshed overlay is now what the tree was built from: nothing to do
    assert "up to date" in run(capsys, *project.args())[1]

    # a second developer builds from the refreshed overlay and gets the same tree, authors and subjects
    other = tmp_path / "other-tree"
    assert run(capsys, "--lock", str(project.lock), "--tree", str(other))[0] == 0
    rebuilt = Repo(other).head.commit
    assert rebuilt.tree.hexsha == built.tree.hexsha
    assert [(c.author.email, c.message) for c in commits_over(Repo(other), upstream.pin)] == [
        (c.author.email, c.message) for c in commits_over(Repo(project.tree), upstream.pin)
    ]
    # refreshing unchanged commits again gives byte-identical patches
    before = {n: (project.overlay / n).read_bytes() for n in names}
    assert run(capsys, "--lock", str(project.lock), "--tree", str(other), "--refresh")[0] == 0
    assert {n: (project.overlay / n).read_bytes() for n in project.series()} == before


def test_first_patch_bootstrap_from_the_bare_pin(capsys, project, upstream):
    """--pin-only, commit, --refresh: an empty series gets its first patch (like gbp pq export)."""
    (project.overlay / "series").write_text("# format notes\n")
    for patch in project.overlay.glob("*.patch"):
        patch.unlink()
    assert run(capsys, *project.args("--pin-only"))[0] == 0
    developer_commit(project.tree, {"pkg/npu.py": "ON_NPU = True\n"}, "Add the NPU flag\n\nWhy: one switch.\n")
    assert run(capsys, *project.args("--refresh"))[0] == 0
    assert (project.overlay / "series").read_text() == "# format notes\n\n0001-Add-the-NPU-flag.patch\n"
    code, out, _ = run(capsys, *project.args())
    assert code == 0 and "up to date" in out
    assert run(capsys, *project.args("--check"))[0] == 0


def test_refresh_refuses_uncommitted_edits(capsys, project):
    assert run(capsys, *project.args())[0] == 0
    (project.tree / "pkg/core.py").write_text("edited\n")
    code, _, err = run(capsys, *project.args("--refresh"))
    assert code == 1 and "uncommitted changes" in one_error_line(err)
    assert len(project.series()) == 2


def test_exported_patches_rebuild_an_identical_tree_on_a_pristine_pin(capsys, project, upstream, tmp_path):
    assert run(capsys, *project.args())[0] == 0
    out = tmp_path / "for-upstream"
    code, _, err = run(capsys, *project.args("--export-patches", str(out)))
    assert code == 0, err
    exported = sorted(out.iterdir())
    assert [p.name[:5] for p in exported] == ["0001-", "0002-"]
    pristine = tmp_path / "pristine"
    assert run(capsys, "--lock", str(project.lock), "--tree", str(pristine), "--pin-only")[0] == 0
    Repo(pristine).git.am(*map(str, exported), env={"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"})
    assert Repo(pristine).head.commit.tree.hexsha == Repo(project.tree).head.commit.tree.hexsha
    # never over somebody's files
    code, _, err = run(capsys, *project.args("--export-patches", str(out)))
    assert code == 2 and "not an empty directory" in one_error_line(err)


def test_patch_metadata_is_read_and_kept_through_refresh(capsys, project):
    from npu_overlay.engine.series import load_series

    first, second = load_series(project.overlay).patches
    assert (first.bugs, first.forwarded) == ((), None)
    assert (second.bugs, second.forwarded) == (FIXTURE_BUGS, "no")
    assert run(capsys, *project.args())[0] == 0
    assert run(capsys, *project.args("--refresh"))[0] == 0
    refreshed = load_series(project.overlay).patches[1]
    assert (refreshed.bugs, refreshed.forwarded) == (FIXTURE_BUGS, "no")


def test_exported_patches_carry_the_given_author_and_keep_the_fields(capsys, project, upstream, tmp_path):
    assert run(capsys, *project.args())[0] == 0
    series_before = {p.name: p.read_bytes() for p in project.overlay.iterdir()}
    out = tmp_path / "for-upstream"
    code, said, err = run(capsys, *project.args("--export-patches", str(out), "--author", "Zoë Contributor <zoe@example.org>"))
    assert code == 0, err
    assert "as Zoë Contributor <zoe@example.org>" in said
    exported = sorted(out.iterdir())
    assert "Forwarded: no" in exported[1].read_text() and f"Bug: {FIXTURE_BUGS[0]}" in exported[1].read_text()
    # git itself reads the new author; the diffs, subjects and trees are those of the series
    pristine = tmp_path / "pristine"
    assert run(capsys, "--lock", str(project.lock), "--tree", str(pristine), "--pin-only")[0] == 0
    repo = Repo(pristine)
    repo.git.am(*map(str, exported), env={"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"})
    commits = commits_over(repo, upstream.pin)
    assert [(c.author.name, c.author.email) for c in commits] == [("Zoë Contributor", "zoe@example.org")] * 2
    assert [c.summary for c in commits] == [c.summary for c in commits_over(Repo(project.tree), upstream.pin)]
    assert repo.head.commit.tree.hexsha == Repo(project.tree).head.commit.tree.hexsha
    # the overlay's own series is untouched
    assert {p.name: p.read_bytes() for p in project.overlay.iterdir()} == series_before


@pytest.mark.parametrize("author", ["zoe@example.org", "Zoë <zoe>", ""])
def test_a_malformed_author_is_a_bad_command_line(capsys, project, tmp_path, author):
    with pytest.raises(SystemExit) as exit_:
        apply.main(project.args("--export-patches", str(tmp_path / "out"), "--author", author))
    assert exit_.value.code == 2
    assert "--author must be 'Name <email>'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_tree_that_is_not_the_series(capsys, project, tmp_path):
    assert run(capsys, *project.args())[0] == 0
    developer_commit(project.tree, {"pkg/extra.py": "y = 2\n"}, "Unexported work")
    code, _, err = run(capsys, *project.args("--export-patches", str(tmp_path / "out")))
    assert code == 1 and "--refresh" in one_error_line(err)


# --- check --------------------------------------------------------------------------------


def _snapshot(tree: Path) -> tuple:
    repo = Repo(tree)
    objects = sorted(str(p.relative_to(tree)) for p in (tree / ".git/objects").rglob("*") if p.is_file())
    return repo.head.commit.hexsha, repo.git.status("--porcelain"), (tree / ".git/config").read_text(), objects


def test_check_passes_on_pin_plus_series_and_names_every_difference(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    before = _snapshot(project.tree)
    code, out, err = run(capsys, *project.args("--check"))
    assert code == 0, out + err
    assert "is exactly" in out
    assert _snapshot(project.tree) == before  # read-only: no commit, no index write, no object, no config
    # what upstream's own .gitignore ignores is not a difference (byte code of an import, say)
    (project.tree / "pkg/__pycache__").mkdir()
    (project.tree / "pkg/__pycache__/core.cpython-311.pyc").write_bytes(b"\0")
    assert run(capsys, *project.args("--check"))[0] == 0

    core = project.tree / "pkg/core.py"
    original = core.read_text()
    core.write_text(original + "# drifted\n")
    (project.tree / "pkg/new.py").write_text("")
    (project.tree / "pkg/npu.py").unlink()
    code, out, err = run(capsys, *project.args("--check"))
    assert code == 1
    assert set(out.splitlines()) == {"M pkg/core.py", "? pkg/new.py", "D pkg/npu.py"}
    assert "3 difference(s)" in err

    # committed differences count as much as uncommitted ones
    Repo(project.tree).git.checkout("--", "pkg/npu.py")
    (project.tree / "pkg/new.py").unlink()
    developer_commit(project.tree, {"pkg/core.py": original + "# committed\n"}, "Local change")
    code, out, _ = run(capsys, *project.args("--check"))
    assert code == 1 and out.splitlines() == ["M pkg/core.py"]


def test_check_of_a_tree_never_built(capsys, project):
    code, _, err = run(capsys, *project.args("--check"))
    assert code == 2 and "no build tree here" in one_error_line(err)


def test_check_notices_a_sparse_set_that_differs_from_the_lock(capsys, project, upstream):
    assert run(capsys, *project.args())[0] == 0
    write_lock(project.lock, str(upstream.bare), upstream.pin, paths=["pkg", "setup.py", ".gitignore", "docs"])
    code, out, _ = run(capsys, *project.args("--check"))
    assert code == 1 and "sparse paths differ" in out


def test_pin_only_builds_and_checks_the_bare_pin(capsys, project, upstream):
    assert run(capsys, *project.args("--pin-only"))[0] == 0
    assert Repo(project.tree).head.commit.hexsha == upstream.pin
    assert run(capsys, *project.args("--pin-only", "--check"))[0] == 0
    assert run(capsys, *project.args("--check"))[0] == 1  # not the series


# --- bad input: one line, non-zero, nothing done ---------------------------------------------

LOCK_BASE = (
    "[upstream]\nurl = 'u'\ncommit = '{sha}'\ndescription = 'd'\n\n"
    "[overlay]\npath = 'overlay'\n\n[checkout]\npaths = ['pkg', 'setup.py']\n"
)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[upstream\n", "not valid TOML"),
        (LOCK_BASE.replace("{sha}", "d1583d4"), "full 40-character"),
        (LOCK_BASE.replace("{sha}", "D" * 40), "full 40-character"),
        (LOCK_BASE + "branch = 'main'\n", "unknown key checkout.branch"),
        (LOCK_BASE + "\n[extras]\nx = 1\n", "unknown table [extras]"),
        (LOCK_BASE.replace("description = 'd'\n", ""), "missing upstream.description"),
        (LOCK_BASE.replace("[overlay]\npath = 'overlay'\n", ""), "missing table [overlay]"),
        (LOCK_BASE.replace("['pkg', 'setup.py']", "'pkg'"), "checkout.paths must be a list"),
        (LOCK_BASE.replace("['pkg', 'setup.py']", "[]"), "checkout.paths is empty"),
        (LOCK_BASE.replace("'pkg', ", "'../pkg', "), "plain relative path"),
    ],
)
def test_a_malformed_lock_is_one_clear_line(capsys, project, upstream, text, message):
    project.lock.write_text(text.replace("{sha}", upstream.pin))
    code, _, err = run(capsys, *project.args())
    assert code == 2 and message in one_error_line(err)
    assert not project.tree.exists()


def test_a_missing_lock_is_one_clear_line(capsys, project):
    code, _, err = run(capsys, *project.args()[:1], str(project.root / "none.lock"), "--tree", str(project.tree))
    assert code == 2 and "lock file not found" in one_error_line(err)


def test_a_lock_path_missing_upstream_is_named(capsys, project, upstream):
    write_lock(project.lock, str(upstream.bare), upstream.pin, paths=["pkg", "setup.cfg"])
    code, _, err = run(capsys, *project.args())
    assert code == 2 and "'setup.cfg' is not in upstream commit" in one_error_line(err)
    assert not project.tree.exists()


@pytest.mark.parametrize("source", ["missing dir", "not a repo", "bad url"])
def test_an_unreachable_upstream_is_one_clear_line(capsys, project, source):
    empty = project.root / "empty"
    empty.mkdir()
    value = {
        "missing dir": str(project.root / "missing"),
        "not a repo": str(empty),
        "bad url": (project.root / "missing.git").as_uri(),
    }[source]
    code, _, err = run(capsys, *project.args("--upstream", value))
    assert code == 2
    assert re.search(r"no such directory|not a git repository|cannot fetch from upstream", one_error_line(err))
    assert not project.tree.exists()


def _bad_overlay(project, case: str) -> None:
    series = project.overlay / "series"
    first = project.overlay / project.series()[0]
    if case == "missing overlay directory":
        shutil.rmtree(project.overlay)
    elif case == "empty series":
        series.write_text("# nothing yet\n\n")
    elif case == "malformed series":
        series.write_text("0001-a.patch -p1\n")
    elif case == "listed twice":
        series.write_text(f"{first.name}\n{first.name}\n")
    elif case == "missing patch file":
        series.write_text("0009-gone.patch\n")
    elif case == "not a patch":
        first.write_text("just some notes\n")
    elif case == "no rationale":
        text = first.read_text()
        head, _, rest = text.partition("\n\n")
        first.write_text(head + "\n\n---" + rest.split("\n---", 1)[1])
    elif case == "bad forwarded":
        text = first.read_text()
        head, sep, rest = text.partition("\n---\n")
        first.write_text(head.rstrip("\n") + "\n\nForwarded: maybe later\n" + sep + rest)
    elif case == "no author":
        first.write_text(re.sub(r"^From: .*$", "From: nobody", first.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing overlay directory", "overlay directory not found"),
        ("empty series", "the series is empty"),
        ("malformed series", "expected one patch file name"),
        ("listed twice", "listed twice"),
        ("missing patch file", "listed in the series but not found"),
        ("not a patch", "not a git format-patch file"),
        ("no rationale", "no rationale"),
        ("no author", "must name the author"),
        ("bad forwarded", "Forwarded: must be 'no', 'not-needed' or the URL"),
    ],
)
def test_a_bad_overlay_is_one_clear_line(capsys, project, case, message):
    _bad_overlay(project, case)
    code, _, err = run(capsys, *project.args())
    assert code == 2 and message in one_error_line(err)
    assert not project.tree.exists()


def test_a_destination_that_is_not_a_git_tree_is_refused(capsys, project):
    project.tree.mkdir(parents=True)
    (project.tree / "notes.txt").write_text("mine\n")
    code, _, err = run(capsys, *project.args())
    assert code == 2 and "exists and is not a git tree" in one_error_line(err)
    assert (project.tree / "notes.txt").read_text() == "mine\n"


def test_bad_command_line_is_one_line(capsys, project):
    with pytest.raises(SystemExit) as exit_:
        apply.main(project.args("--refresh", "--pin-only"))
    assert exit_.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- the real entry point ------------------------------------------------------------------


def test_apply_py_runs_from_any_folder(project, upstream, tmp_path):
    """As a script from another folder: default paths next to apply.py, errors as one line, exit 2 for a bad upstream."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = str(ROOT / "apply.py")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, script, *project.args()], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    # the default lock is the project's own upstream.lock, found from any folder
    done = subprocess.run(
        [sys.executable, script, "--pin-only", "--tree", str(tmp_path / "t"), "--upstream", str(tmp_path / "nowhere")],
        cwd=elsewhere, capture_output=True, text=True, env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("apply.py: error: upstream source") and done.stderr.count("\n") == 1


def test_the_project_lock_and_series_are_well_formed():
    from npu_overlay.engine.lock import load_lock
    from npu_overlay.engine.series import parse_patch, read_series_names

    lock = load_lock(ROOT / "upstream.lock")
    assert lock.commit == "d1583d4e08a9b3d7805a9f73b7b758bec258d4c9"
    assert lock.url == "https://github.com/PaddlePaddle/PaddleOCR.git"
    assert lock.overlay_dir == ROOT / "overlay" / "2.8"
    for name in read_series_names(lock.overlay_dir):  # empty until the patches land
        parse_patch(lock.overlay_dir / name)


def test_pin_only_without_a_tree_never_touches_the_patched_tree():
    """--pin-only defaults to a tree of its own, so it cannot turn build/PaddleOCR into the bare pin."""
    pin = apply.parse_args(["--pin-only"])
    patched = apply.parse_args([])
    assert pin.tree.name == "PaddleOCR-pin" and patched.tree.name == "PaddleOCR"
    assert pin.tree.parent == patched.tree.parent
    assert apply.parse_args(["--pin-only", "--tree", "elsewhere"]).tree.name == "elsewhere"
