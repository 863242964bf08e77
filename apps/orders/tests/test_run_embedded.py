"""run_embedded refuses a taken address before it starts anything, in one line that names ADDRPORT."""

import socket

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_port_is_refused_in_one_line_naming_addrport(taken_port):
    with pytest.raises(CommandError) as refused:
        call_command("run_embedded", "--check-port", f"127.0.0.1:{taken_port}")

    message = str(refused.value)
    assert "\n" not in message
    assert f"127.0.0.1:{taken_port} is already in use" in message
    assert f"ADDRPORT=127.0.0.1:{taken_port + 1} make run" in message


def test_a_port_alone_means_the_loopback_address(taken_port):
    with pytest.raises(CommandError, match=rf"127\.0\.0\.1:{taken_port} is already in use"):
        call_command("run_embedded", "--check-port", str(taken_port))


def test_a_free_port_passes_the_check():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]

    call_command("run_embedded", "--check-port", f"127.0.0.1:{free}")


def test_an_address_that_is_not_one_is_refused():
    with pytest.raises(CommandError, match=r"ADDRPORT=127\.0\.0\.1:http is not a port"):
        call_command("run_embedded", "--check-port", "127.0.0.1:http")
