"""Progress of long operator work: a live bar on a terminal, a plain line now and then anywhere else.

Services that loop over many items take an ``on_progress(done, total)``
callback (``total`` is None while unknown) and know nothing of how it is shown.
Commands open ``progress(self.stderr, ...)`` around the call: progress goes to
stderr, so what they print on stdout, which scripts and tests read, stays as it
was. Under cron, CI or a pipe there is no bar to redraw, so a line is written
every ``every`` items or ``interval`` seconds, whichever comes first; a short
run writes nothing.
"""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

OnProgress = Callable[[int, int | None], None]


def no_progress(done: int, total: int | None) -> None:
    """The default ``on_progress`` of a service: report nowhere."""


def is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _PlainLines:
    def __init__(self, stream, *, description: str, every: int, interval: float, clock: Callable[[], float]):
        self._stream = stream
        self._description = description
        self._every = every
        self._interval = interval
        self._clock = clock
        self._started_at = clock()
        self._written_at = self._started_at
        self._written_done = 0
        self._done = 0
        self._total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self._done, self._total = done, total
        if done - self._written_done >= self._every or self._clock() - self._written_at >= self._interval:
            self._write()

    def close(self) -> None:
        # A run that said nothing on the way stays silent; one that did says where it ended.
        if self._written_done and self._written_done != self._done:
            self._write()

    def _write(self) -> None:
        elapsed = self._clock() - self._started_at
        count = f"{self._done}" if self._total is None else f"{self._done}/{self._total}"
        self._stream.write(f"{self._description}: {count} ({elapsed:.0f}s)\n")
        self._stream.flush()
        self._written_done = self._done
        self._written_at = self._clock()


class _Bar:
    def __init__(self, stream, *, description: str):
        # Django's OutputWrapper ends every write with a newline; the bar redraws its line, so it needs the stream.
        raw = getattr(stream, "_out", stream)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=raw, force_terminal=True),
            # Prints to a terminal stdout go above the bar; a redirected stdout is left alone.
            redirect_stdout=is_terminal(sys.stdout),
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(description, total=None)
        self._progress.start()

    def __call__(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        self._progress.stop()


@contextmanager
def progress(
    stream: TextIO,
    *,
    description: str,
    every: int = 1000,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[OnProgress]:
    """An ``on_progress(done, total)`` callback that shows progress on ``stream``: a bar when it is a
    terminal, else a line per ``every`` items or ``interval`` seconds."""
    if is_terminal(stream):
        reporter = _Bar(stream, description=description)
    else:
        reporter = _PlainLines(stream, description=description, every=every, interval=interval, clock=clock)
    try:
        yield reporter
    finally:
        reporter.close()
