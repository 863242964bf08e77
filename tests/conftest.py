import pytest

from tests.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One running stack (every Procfile process but flower) shared by a module's scenarios."""
    running = Stack(tmp_path_factory.mktemp("stack")).create()
    try:
        running.start_all()
        yield running
    finally:
        running.close()


@pytest.fixture
def make_stack(tmp_path_factory):
    """Build a stack with its own settings; the test starts the processes it needs."""
    stacks = []

    def build(**env) -> Stack:
        created = Stack(tmp_path_factory.mktemp("stack"), env={key: str(value) for key, value in env.items()})
        stacks.append(created)
        return created.create()

    yield build
    for created in stacks:
        created.close()
