"""The error convention every command of this repository follows (README, "Errors and exit status").

* exit 2 and one line on stderr: bad input, an unusable environment, or a missing dependency
  (the line names what to install);
* exit 1: a check ran and found problems (hazards, regressions, a tree that differs);
* a traceback: a bug, and nothing else.

Tools raise a ``ToolError`` subclass for the first kind; their ``main`` runs its work through
``run_command``, which prints it. A module that a command cannot import is reported by
``missing_dependency`` (or ``exit_on_missing`` around the imports at the top of a command's
module), naming the package to install.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import Callable

# import name -> what to pip install (the versions this project is tested with)
INSTALL = {
    "paddle": "paddlepaddle==3.0.0",
    "numpy": "'numpy<2'",
    "cv2": "'opencv-python-headless<4.11'",
    "yaml": "pyyaml",
    "PIL": "Pillow",
    "git": "GitPython",
    "tomli": "tomli",
    "matplotlib": "matplotlib",
    "tabulate": "tabulate",
    "onnx": "'onnx>=1.16,<1.18'",
    "onnxruntime": "'onnxruntime>=1.19,<1.21'",
    "paddle2onnx": "paddle2onnx==2.1.0",
}


class ToolError(RuntimeError):
    """Bad input or an unusable environment: the command prints it as one line and exits 2."""


def missing_dependency(exc: ModuleNotFoundError, prog: str) -> int:
    """One line naming what to install, exit status 2; re-raises a missing module of our own (a bug)."""
    top = (exc.name or "").partition(".")[0]
    if top not in INSTALL:
        raise exc
    print(f"{prog}: error: the {top} module is not installed here (pip install {INSTALL[top]})", file=sys.stderr)
    return 2


@contextmanager
def exit_on_missing(prog: str, module_name: str):
    """Around a command module's top-level imports: run as a command (``module_name`` is
    ``"__main__"``), a missing dependency is one line and exit 2; imported, it raises as usual."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if module_name != "__main__":
            raise
        sys.exit(missing_dependency(exc, prog))


def run_command(prog: str, work: Callable[[], int | None], handled: tuple[type[BaseException], ...] = (ToolError,)) -> int:
    """A command's ``work`` under the convention; returns the exit status. ``work`` returns its own
    status (None: 0); a ``handled`` error is one line, ``error: ...``, and exit 2; a missing
    dependency is one line naming what to install, exit 2; anything else is a bug and raises."""
    try:
        return work() or 0
    except handled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        return missing_dependency(exc, prog)


def _at_least(low: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"must be an integer of at least {low}: {text!r}")
    return value


def positive(text: str) -> int:
    """argparse type: an integer of at least 1 (repeats, threads, warm-up runs)."""
    return _at_least(1, text)


def non_negative(text: str) -> int:
    """argparse type: an integer of at least 0 (rounds that may be skipped)."""
    return _at_least(0, text)
