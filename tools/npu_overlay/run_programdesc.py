"""Run an inference model in the old ProgramDesc format (``inference.pdmodel``) with Paddle 3.

Paddle 3 reads PIR programs by default; PaddleX's and Paddle 2.x's exports are ProgramDesc, so
they load under ``OldIrGuard`` into a scope of their own (several models can be open at once).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass
class LoadedProgram:
    executor: Any
    program: Any
    feeds: list[str]
    fetches: list[Any]
    scope: Any

    def run(self, batch, extra_fetches: tuple[str, ...] = ()) -> list:
        """Run one batch; returns the extra fetches (by variable name) then the model's outputs."""
        return self.executor.run(self.program, feed={self.feeds[0]: batch},
                                 fetch_list=[*extra_fetches, *self.fetches], scope=self.scope)


@contextmanager
def loaded_program(prefix: str | os.PathLike) -> Iterator[LoadedProgram]:
    """``prefix`` is the model's path without suffix (``…/inference``)."""
    import paddle
    from paddle.pir_utils import OldIrGuard

    with OldIrGuard():
        scope = paddle.static.Scope()
        executor = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(scope):
            program, feeds, fetches = paddle.static.load_inference_model(str(prefix), executor)
            yield LoadedProgram(executor, program, feeds, fetches, scope)
