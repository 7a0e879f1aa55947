#!/usr/bin/env python3
"""Build the patched PaddleOCR tree: the pinned upstream commit plus the overlay's patch series.

    python apply.py                       # build/PaddleOCR, branch npu-overlay = pin + one commit per patch
    python apply.py --check               # read-only: is the tree exactly pin + series? (exit 1 if not)
    python apply.py --refresh             # write the branch's commits back into the overlay series
    python apply.py --export-patches DIR [--author "Name <email>"]  # the series as format-patch files, for upstream PRs
    python apply.py --pin-only            # just the pin (build/PaddleOCR-pin), to author patches on or compare with
    python apply.py --wheel               # dist/paddleocr-<version>+npu.<N>-py3-none-any.whl from the tree

The upstream source is the lock's URL unless --upstream or $PADDLEOCR_UPSTREAM names
another one (a mirror URL, a bare git dir, a working clone): any source holding the
pinned commit will do. Exit status: 0 done; 1 a check found problems (a tree that is not
pin + series, uncommitted work in the way, a patch that no longer applies); 2 bad input (command
line, lock, series, upstream source) or a missing package (GitPython; build for --wheel).
Either way one line on stderr says why.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))  # run from any folder, installed or not: the engine is tools/npu_overlay

from npu_overlay.cli import exit_on_missing  # noqa: E402

with exit_on_missing("apply.py", __name__):  # GitPython (and tomli before Python 3.11)
    from git import GitCommandError

    from npu_overlay.engine import buildtree, check, export, patches, releases, source, wheel
    from npu_overlay.engine.errors import OverlayError, git_stderr
    from npu_overlay.engine.lock import Lock, load_lock
    from npu_overlay.engine.series import Series, empty_series, load_series


def build(args: argparse.Namespace) -> int:
    lock = read_lock(args)  # what to build on
    series = read_series(args, lock)  # what to put on it
    is_new = not (args.tree / ".git").exists()
    repo = buildtree.open_tree(args.tree, create=True)
    if buildtree.interrupted_build(repo):
        buildtree.clear_stale_locks(repo)  # held by the git process that was killed with the build
    state = buildtree.read_state(repo)
    wanted = buildtree.fingerprint(lock, series)
    if buildtree.is_built(repo, state, wanted):  # same lock, same patches, nobody's edits: nothing to do
        buildtree.finish_build(repo)  # killed just after recording the build: it was complete
        say(f"{args.tree} is up to date: {summary(lock, series)}; nothing to do")
        return 0
    if buildtree.interrupted_build(repo):  # our own half-made work, not the user's: clear it and go on
        say(f"{args.tree}: an earlier apply.py run was interrupted; building again")
        buildtree.clear_interrupted_build(repo)
    else:
        protect_work(repo, state, args.force)  # never lose uncommitted edits or commits made in the tree
    buildtree.start_build(repo)  # journal: only a kill leaves it set; a refusal below clears it
    try:
        with buildtree.removed_on_refusal(repo, is_new):  # a refused first build leaves no empty repository
            fetch_pin(repo, lock, args.upstream)  # content-addressed: any source holding the commit
            buildtree.check_paths_in_pin(repo, lock)  # a lock path missing upstream is a typo, not an empty dir
        buildtree.checkout_pin(repo, lock)  # branch npu-overlay at the pin, sparse paths only
        buildtree.write_state(repo, None, lock.commit)  # from here every commit on the branch is ours
        patches.apply_series(repo, series, lambda head: buildtree.write_state(repo, None, head))
        buildtree.write_state(repo, wanted, repo.head.commit.hexsha)
    except OverlayError:  # refused with the tree in a known state (last good commit, or no tree at all)
        if (args.tree / ".git").exists():
            buildtree.finish_build(repo)
        raise
    buildtree.finish_build(repo)
    say(f"built {args.tree}: {summary(lock, series)}")
    return 0


def verify(args: argparse.Namespace) -> int:
    lock = read_lock(args)
    series = read_series(args, lock)
    repo = buildtree.open_tree(args.tree, create=False)
    found = check.differences(repo, lock, series)
    for line in found:
        print(line)
    if found:
        print(f"apply.py: {args.tree} is not {summary(lock, series)}: {len(found)} difference(s)", file=sys.stderr)
        return 1
    say(f"{args.tree} is exactly {summary(lock, series)}")
    return 0


def refresh(args: argparse.Namespace) -> int:
    lock = read_lock(args)
    repo = buildtree.open_tree(args.tree, create=False)
    if buildtree.am_in_progress(repo) or buildtree.changed_files(repo):
        raise OverlayError(f"{args.tree}: uncommitted changes; commit them (they become patches) before --refresh")
    if repo.head.is_detached or repo.active_branch.name != buildtree.BRANCH:
        raise OverlayError(f"{args.tree}: HEAD is not on branch {buildtree.BRANCH}")
    names = export.refresh_series(repo, lock)  # the branch is the review unit; the series follows it
    series = load_series(lock.overlay_dir) if names else empty_series(lock.overlay_dir)
    buildtree.write_state(repo, buildtree.fingerprint(lock, series), repo.head.commit.hexsha)
    say(f"wrote {len(names)} patch(es) and the series to {lock.overlay_dir}")
    return 0


def export_patches(args: argparse.Namespace) -> int:
    lock, series, repo = built_tree(args)
    names = export.export_patches(repo, lock, args.export_patches, args.author)
    by = f" as {args.author_given}" if args.author else ""
    say(f"wrote {len(names)} patch(es) against upstream {lock.short} to {args.export_patches}{by}")
    return 0


def build_wheel(args: argparse.Namespace) -> int:
    lock, series, repo = built_tree(args)
    if args.new_release:
        release = releases.record_release(lock, series)
        say(f"release npu.{release.number} is upstream {lock.short} + series sha256:{release.series[:12]} "
            f"({releases.releases_path(lock)})")
    release = releases.current_release(lock, series)  # the number comes from the record, never from the user
    built = wheel.build_wheel(repo, lock, series, release, args.dist)
    say(f"built {built.path} (paddleocr {built.version}, sha256 {built.sha256})")
    return 0


def built_tree(args: argparse.Namespace):
    """(lock, series, tree) for the steps that read a finished build: exactly pin + series, or refused."""
    lock = read_lock(args)
    series = read_series(args, lock)
    repo = buildtree.open_tree(args.tree, create=False)
    state = buildtree.read_state(repo)
    if not buildtree.is_built(repo, state, buildtree.fingerprint(lock, series)):
        risk = buildtree.work_at_risk(repo, state)
        raise OverlayError(f"{args.tree} is not {summary(lock, series)}" + (f": {risk}" if risk else "")
                           + "; run apply.py, or --refresh to keep commits made there")
    return lock, series, repo


def read_lock(args: argparse.Namespace) -> Lock:
    lock = load_lock(args.lock)
    return dataclasses.replace(lock, overlay_dir=args.overlay) if args.overlay else lock


def read_series(args: argparse.Namespace, lock: Lock) -> Series:
    return empty_series(lock.overlay_dir) if args.pin_only else load_series(lock.overlay_dir)


def protect_work(repo, state: buildtree.State, force: bool) -> None:
    risk = buildtree.work_at_risk(repo, state)
    if risk and not force:
        raise OverlayError(
            f"{repo.working_tree_dir}: {risk}; commit and run --refresh to keep the work in the overlay, "
            "or --force to discard it"
        )
    if risk:
        say(f"--force: discarding {risk}")
        buildtree.discard_work(repo)


def fetch_pin(repo, lock: Lock, override: str | None) -> None:
    upstream = source.resolve_source(lock, override)
    source.use_source(repo, upstream)
    if not source.has_commit(repo, lock.commit):
        say(f"fetching {lock.short} from {upstream.given}")
        source.fetch_pin(repo, upstream, lock)


def summary(lock: Lock, series: Series) -> str:
    return f"upstream {lock.short} + {len(series.patches)} patch(es) from {series.directory.name}"


def say(message: str) -> None:
    print(message, flush=True)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        self.exit(2, f"apply.py: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_const", dest="action", const=verify,
                      help="read-only: exit 1, naming the files, unless the tree is exactly pin + series")
    mode.add_argument("--refresh", action="store_const", dest="action", const=refresh,
                      help="write the branch's commits (pin..npu-overlay) back into the overlay series")
    mode.add_argument("--export-patches", metavar="DIR", type=Path,
                      help="write the series as git format-patch files against the pin into DIR")
    parser.add_argument("--author", metavar="'NAME <EMAIL>'",
                        help="with --export-patches: the contributor the exported patches name on From: "
                             "(the overlay's own patches keep theirs)")
    mode.add_argument("--wheel", action="store_const", dest="action", const=build_wheel,
                      help="build the tree into a drop-in wheel with upstream's build files (offline)")
    parser.add_argument("--new-release", action="store_true",
                        help="with --wheel: record the pin + series as the next release (+npu.<N+1>) first")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="with --wheel: where the wheel goes (default: dist/ next to apply.py)")
    parser.add_argument("--pin-only", action="store_true",
                        help="the pinned tree without the overlay (to author patches on); with --check, check that")
    parser.add_argument("--force", action="store_true",
                        help="discard uncommitted edits and extra commits in the tree instead of stopping")
    parser.add_argument("--upstream", metavar="URL_OR_PATH",
                        help=f"where to fetch the pin from (default: ${source.ENV_VAR}, else the lock's url)")
    parser.add_argument("--tree", type=Path,
                        help="the build tree (default: build/PaddleOCR next to apply.py; "
                             "build/PaddleOCR-pin with --pin-only)")
    parser.add_argument("--lock", type=Path, default=ROOT / "upstream.lock",
                        help="the lock file (default: upstream.lock next to apply.py)")
    parser.add_argument("--overlay", type=Path, metavar="DIR",
                        help="overlay directory to use instead of the one the lock names")
    args = parser.parse_args(argv)
    if args.export_patches:
        args.action = export_patches
    args.action = args.action or build
    if args.pin_only and args.action not in (build, verify):
        parser.error("--pin-only goes with a build or --check")
    # the bare pin has a tree of its own: --pin-only must never turn the patched tree into it
    args.tree = args.tree or ROOT / "build" / ("PaddleOCR-pin" if args.pin_only else "PaddleOCR")
    if args.new_release and args.action is not build_wheel:
        parser.error("--new-release goes with --wheel")
    args.author_given = args.author
    if args.author is not None:
        if args.action is not export_patches:
            parser.error("--author goes with --export-patches")
        args.author = export.parse_author(args.author)
        if args.author is None:
            parser.error(f"--author must be 'Name <email>', got {args.author_given!r}")
    for name in ("tree", "lock", "overlay", "export_patches", "dist"):
        if getattr(args, name):
            setattr(args, name, getattr(args, name).expanduser().resolve())
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.action(args)
    except OverlayError as exc:
        print(f"apply.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except GitCommandError as exc:  # git failed where we did not expect it: still one line, with git's reason
        reason = (git_stderr(exc).strip().splitlines() or [str(exc.status)])[-1]
        print(f"apply.py: error: git {exc.command[1] if len(exc.command) > 1 else ''} failed: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
