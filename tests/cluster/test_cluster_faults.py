"""Each fault in its own run, on the loopback cluster, under a burst of 1,000 orders at 50 a second.

Every run must end with every accepted order's saga terminal (0 lost), no double charge, no
double reservation and a clean `reconcile`; the figures go to docs/reliability.md.
"""

import os
import signal
import subprocess
import time

import pytest

from tests.cluster.harness import (
    PacedLoad,
    cluster,
    durable_queue_types,
    galera_writer,
    measure,
    queue_leaders,
    rabbit_pid,
    seed_products,
)

# A run takes 1-2 minutes; a rolling restart with slow node starts may take longer than the suite-wide 300 s.
pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq, pytest.mark.timeout(900)]

STRIKE_AT = 0.25


def leading_node(stack) -> int:
    leaders = queue_leaders(stack.vhost)
    assert sum(leaders.values()) >= 9, leaders  # three work queues, their retry queues and DLQs
    return leaders.most_common(1)[0][0]


def test_rabbitmq_node_leading_most_queues_sigkilled(make_cluster_stack):
    stack = make_cluster_stack()
    types = durable_queue_types(stack.vhost)
    assert set(types.values()) == {"quorum"}, types
    assert "relay" in types, types
    load = PacedLoad(stack, products=seed_products(stack, 20_000))
    load.wait_sent(STRIKE_AT)
    node = leading_node(stack)
    fault_at = time.time()
    cluster("rabbit-kill", node)
    load.wait_sent(0.9)
    cluster("rabbit-start", node)

    measure(
        stack,
        load,
        fault=f"SIGKILL RabbitMQ node {node} (leader of most queues), back after the burst",
        fault_at=fault_at,
    )


def test_galera_writer_sigkilled(make_cluster_stack):
    stack = make_cluster_stack()
    load = PacedLoad(stack, products=seed_products(stack, 20_100))
    load.wait_sent(STRIKE_AT)
    writer = galera_writer(stack)
    fault_at = time.time()
    cluster("galera-kill", writer)
    load.wait_sent(0.9)
    moved_to = galera_writer(stack)
    cluster("galera-start", writer, timeout=600)

    assert moved_to != writer
    measure(
        stack,
        load,
        fault=f"SIGKILL Galera writer galera-{writer} (HAProxy moved to galera-{moved_to})",
        fault_at=fault_at,
    )


def test_rolling_restart_of_every_rabbitmq_node(make_cluster_stack):
    stack = make_cluster_stack()
    load = PacedLoad(stack, products=seed_products(stack, 20_200))
    load.wait_sent(STRIKE_AT)
    fault_at = time.time()
    for node in (1, 2, 3):
        cluster("rabbit-restart", node, timeout=400)

    measure(stack, load, fault="rolling restart of RabbitMQ nodes 1, 2, 3", fault_at=fault_at)


def test_rabbitmq_node_frozen_30s(make_cluster_stack):
    stack = make_cluster_stack()
    load = PacedLoad(stack, products=seed_products(stack, 20_300))
    load.wait_sent(STRIKE_AT)
    node = leading_node(stack)
    pid = rabbit_pid(node)
    fault_at = time.time()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(30)
    finally:
        os.kill(pid, signal.SIGCONT)

    measure(
        stack, load, fault=f"SIGSTOP RabbitMQ node {node} (leader of most queues) 30 s, then SIGCONT", fault_at=fault_at
    )


MARIADB_PIDFILE = "/run/mysqld/mysqld.pid"


def restart_single_mariadb() -> None:
    """Stop the local MariaDB server (SIGTERM, as a service stop does) and start it again."""
    with open(MARIADB_PIDFILE) as handle:
        pid = int(handle.read().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("MariaDB did not stop within 120 s")
    try:
        time.sleep(3)
    finally:
        subprocess.run(
            [
                "start-stop-daemon",
                "--start",
                "--oknodo",
                "--background",
                "--pidfile",
                MARIADB_PIDFILE,
                "--exec",
                "/usr/sbin/mariadbd",
            ],
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 120
        while subprocess.run(
            ["mariadb-admin", "--host=127.0.0.1", "--user=root", "ping"], capture_output=True, check=False
        ).returncode:
            assert time.monotonic() < deadline, "MariaDB did not come back within 120 s"
            time.sleep(0.5)


def test_single_node_mariadb_restarted(make_cluster_stack):
    stack = make_cluster_stack(galera=False)
    load = PacedLoad(stack, products=seed_products(stack, 20_400))
    load.wait_sent(STRIKE_AT)
    fault_at = time.time()
    restart_single_mariadb()

    measure(stack, load, fault="restart of the single-node MariaDB server (SIGTERM, start)", fault_at=fault_at)
