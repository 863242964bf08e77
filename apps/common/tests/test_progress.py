"""Progress of long commands: a bar on a terminal, plain lines on anything else, never on stdout."""

import io

from apps.common.progress import progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_a_bar_that_ends_on_the_count():
    stream = FakeTerminal()

    with progress(stream, description="redriving inventory.commands") as on_progress:
        for done in range(1, 11):
            on_progress(done, 10)

    shown = stream.getvalue()
    assert "redriving inventory.commands" in shown
    assert "10/10" in shown
    assert "\x1b[" in shown, "a bar redraws itself with terminal control sequences"


def test_a_plain_stream_gets_a_line_every_so_many_items_and_one_where_it_ended():
    stream = io.StringIO()

    with progress(stream, description="purging messages", every=10, clock=FakeClock()) as on_progress:
        for done in range(1, 26):
            on_progress(done, None)

    assert stream.getvalue().splitlines() == [
        "purging messages: 10 (0s)",
        "purging messages: 20 (0s)",
        "purging messages: 25 (0s)",
    ]
    assert "\x1b[" not in stream.getvalue()


def test_a_plain_stream_gets_a_line_every_few_seconds_of_slow_work():
    stream = io.StringIO()
    clock = FakeClock()

    with progress(stream, description="idle sagas", every=1000, interval=5, clock=clock) as on_progress:
        for done in range(4):
            clock.now += 3
            on_progress(done, 3)

    assert stream.getvalue().splitlines() == ["idle sagas: 1/3 (6s)", "idle sagas: 3/3 (12s)"]


def test_a_short_run_on_a_plain_stream_writes_nothing():
    stream = io.StringIO()

    with progress(stream, description="reconciling") as on_progress:
        for done in range(1, 12):
            on_progress(done, 11)

    assert stream.getvalue() == ""
