"""`pipeline.workers=n`: up to n of the pipeline's steps at once, each in a process of its own.

On a machine with few cores one process leaves a core idle while it steps its games (single-
threaded Python), and a small model's matrix products scale poorly over threads. Steps that do
not read each other (Base on the evaluation split beside Stage A on train, Stage B beside the SFT
student, the RAG evaluation beside the teacher on train) therefore run side by side. Each run is
still made whole by one process, with its episodes in the same queue and batches and with torch's
thread count as with one worker (in bfloat16 the thread count can flip a greedy pick), so no result
depends on n. A step that may run beside another gets OpenMP threads that sleep when they wait
(OMP_WAIT_POLICY=PASSIVE): spinning threads of two processes on the same cores slow both ~3x.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterator

from omegaconf import DictConfig

from hintrag.errors import NothingToDo
from hintrag.usage import Usage, measured

RunStage = Callable[[str, DictConfig, Path], dict[str, Any]]


@dataclass
class Finished:
    """What became of one step: its summary, or why it had nothing to do, or how it failed."""

    key: str
    summary: dict[str, Any] | None = None
    nothing: str | None = None  # the stage's NothingToDo reason
    error: str | None = None    # the traceback (or exit code) of a step that failed in a worker
    usage: Usage = field(default_factory=Usage)
    worker: bool = False        # ran in a worker process (not the pipeline's own)
    passive: bool = False       # its OpenMP threads slept when waiting (it may have run beside another step)


PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block (a spawned process inherits them), then as before;
    a variable the user set is left as the user set it."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _attempt(run_stage: RunStage, key: str, mode: str, cfg: DictConfig, root: Path) -> Finished:
    with measured() as usage:
        try:
            summary, nothing = run_stage(mode, cfg, root), None
        except NothingToDo as reason:
            summary, nothing = None, str(reason)
    return Finished(key, summary, nothing, usage=usage)


def _worker(run_stage: RunStage, key: str, mode: str, cfg: DictConfig, root: Path, tag: str,
            out: Connection) -> None:
    """A worker's body: its log lines tagged with its step; the outcome (or the traceback) goes back."""
    logging.basicConfig(level=logging.INFO, format=f"[{tag}] %(name)s: %(message)s")
    try:
        done = _attempt(run_stage, key, mode, cfg, root)
    except BaseException:  # noqa: BLE001 - everything is reported to the pipeline, which stops
        done = Finished(key, error=traceback.format_exc())
    done.worker, done.passive = True, os.environ.get("OMP_WAIT_POLICY") == PASSIVE["OMP_WAIT_POLICY"]
    out.send(done)
    out.close()


class Steps:
    """Runs steps, at most `workers` at once: in this process when workers == 1 (one after the
    other), else each in a spawned process (torch and TextWorld state are not fork-safe)."""

    def __init__(self, run_stage: RunStage, root: Path, workers: int) -> None:
        self.run_stage, self.root, self.workers = run_stage, root, workers
        self._context = multiprocessing.get_context("spawn")
        self._live: dict[Connection, tuple[str, Any]] = {}  # pipe -> (key, process)
        self._done: list[Finished] = []                     # finished in this process, not yet collected

    @property
    def running(self) -> int:
        return len(self._live) + len(self._done)

    @property
    def free(self) -> int:
        return self.workers - self.running

    def start(self, key: str, mode: str, cfg: DictConfig, tag: str, beside: bool) -> None:
        """Start a step; `beside`: it may run beside another one (so its OpenMP threads wait passively)."""
        if self.workers == 1:  # exceptions other than NothingToDo reach the caller as they are
            self._done.append(_attempt(self.run_stage, key, mode, cfg, self.root))
            return
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_worker, name=f"hintrag {tag}",
                                        args=(self.run_stage, key, mode, cfg, self.root, tag, send))
        with environment(PASSIVE if beside else {}):
            process.start()
        send.close()  # the worker holds the other end: end of file once it exits
        self._live[receive] = (key, process)

    def wait(self) -> Finished:
        """The next step to finish (blocks until one does)."""
        if self._done:
            return self._done.pop(0)
        ready = wait(list(self._live))[0]
        key, process = self._live.pop(ready)
        try:
            done = ready.recv()
        except EOFError:  # killed, or died in native code, before it could say
            done = None
        process.join()
        return done or Finished(key, error=f"its worker process exited with code {process.exitcode}")

    def stop(self) -> None:
        """Ends the workers still running (the pipeline is stopping: a rerun resumes their runs)."""
        for _, process in self._live.values():
            process.terminate()
        for _, process in self._live.values():
            process.join()
        self._live.clear()
