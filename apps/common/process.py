"""Objects a process owns alone, such as a background thread and its queue."""

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """One ``build()`` per process, made on first use: a forked child (gunicorn, Celery prefork) makes its own.

    A thread started before a fork does not run in the child, so an object that
    owns one must not be inherited; ``current()`` is this process's, if built.
    """

    def __init__(self, build: Callable[[], T]):
        self._build = build
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._instance: T | None = None

    def __call__(self) -> T:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._instance = self._build()
                    self._pid = os.getpid()
        return self._instance

    def current(self) -> T | None:
        return self._instance if self._pid == os.getpid() else None
