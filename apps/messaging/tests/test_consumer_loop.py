"""How the consumer loop picks its next batch (pure logic: a scripted connection, no broker)."""

from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.topology import WORK_QUEUES


class ScriptedConnection:
    """drain_events delivers the scripted messages into the worker's buffer, then times out."""

    def __init__(self, worker, arrivals):
        self.worker = worker
        self.arrivals = list(arrivals)
        self.waits = []
        self.heartbeats = 0

    def drain_events(self, timeout):
        self.waits.append(timeout)
        if not self.arrivals:
            raise TimeoutError
        self.worker._buffer.append(self.arrivals.pop(0))

    def heartbeat_check(self):
        self.heartbeats += 1


def worker(batch_size=3):
    spec = ConsumerSpec(
        name="test", queue=WORK_QUEUES["inventory.commands"], using="orders", handlers={}, transient_retries=0
    )
    return ConsumerWorker(spec, url="amqp://unused//", prefetch=10, batch_size=batch_size)


def test_a_delivery_buffered_while_settling_is_taken_without_waiting_for_the_broker():
    consumer = worker()
    consumer._buffer.append("arrived during the last confirm wait")
    connection = ScriptedConnection(consumer, [])

    assert consumer._next_batch(connection) == ["arrived during the last confirm wait"]
    assert 1 not in connection.waits, "no blocking wait while a delivery is in hand"
    assert consumer._buffer == []


def test_an_idle_broker_gives_an_empty_batch_and_a_heartbeat_check():
    consumer = worker()
    connection = ScriptedConnection(consumer, [])

    assert consumer._next_batch(connection) == []
    assert connection.waits == [1]
    assert connection.heartbeats == 1


def test_a_batch_takes_what_the_broker_already_sent_up_to_the_batch_size():
    consumer = worker(batch_size=3)
    connection = ScriptedConnection(consumer, ["a", "b", "c", "d"])

    assert consumer._next_batch(connection) == ["a", "b", "c"]
    assert consumer._next_batch(connection) == ["d"]
