"""PerProcess: one instance per process, a forked child builds its own."""

import os

from apps.common.process import PerProcess


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
