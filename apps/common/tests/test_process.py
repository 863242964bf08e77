"""PerProcess: one instance per process, a forked child builds its own. The start-up heap's freeze."""

import gc
import os
import weakref

import pytest

from apps.common.process import PerProcess, freeze_startup_heap


def test_one_instance_per_process_built_on_first_use():
    built = []
    per_process = PerProcess(lambda: built.append(object()) or built[-1])

    assert per_process.current() is None
    first = per_process()

    assert per_process() is first
    assert per_process.current() is first
    assert len(built) == 1


def test_a_forked_child_builds_its_own():
    per_process = PerProcess(lambda: (os.getpid(), object()))
    parent = per_process()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report whether it saw none, then built a fresh one of its own
        fresh = per_process.current() is None and per_process()[0] == os.getpid() and per_process() is not parent
        os.write(write, b"1" if fresh else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(child, 0)

    assert answer == b"1"
    assert per_process() is parent


class Node:
    def __init__(self):
        self.other = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def unfrozen_after():
    yield
    gc.unfreeze()


def test_what_lives_at_the_freeze_stays_out_of_collections_and_what_comes_after_is_collected(unfrozen_after):
    before = Node()
    before_ref = weakref.ref(before)

    frozen = freeze_startup_heap()
    after = Node()
    after_ref = weakref.ref(after)
    del before, after
    gc.collect()

    assert frozen == gc.get_freeze_count() > 0
    assert before_ref() is not None  # frozen: a full collection no longer looks at it
    assert after_ref() is None


def test_gunicorn_workers_freeze_the_heap_once_the_app_is_loaded(unfrozen_after, monkeypatch, tmp_path):
    # Importing the gunicorn settings sets a default metrics directory: keep it out of this process's env.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from config import gunicorn

    gc.unfreeze()
    gunicorn.post_worker_init(worker=None)

    assert gc.get_freeze_count() > 0
