import itertools

import pytest

from tests.faults.harness import seed_products
from tests.stack import Stack

_blocks = itertools.count(0)


@pytest.fixture(scope="package")
def fault_stack(tmp_path_factory):
    """One stack for the fault scenarios; a fifth of the charges are declined, so compensations run too."""
    running = Stack(tmp_path_factory.mktemp("faults"), env={"PAYMENT_FAILURE_RATE": "0.2"}).create()
    try:
        running.start_all()
        yield running
    finally:
        running.close()


@pytest.fixture
def products(fault_stack) -> list[int]:
    """Fresh products for one scenario, so its stock figures are its own."""
    return seed_products(fault_stack, 10_000 + 10 * next(_blocks))
