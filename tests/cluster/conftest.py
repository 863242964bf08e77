import os

import pytest

from tests.cluster.harness import CLUSTER_SETTINGS, cluster_env, rabbitmqctl
from tests.stack import MARIADB, Stack


@pytest.fixture(scope="session")
def cluster_addresses() -> dict[str, str]:
    """The running cluster's addresses; without one the run fails under CI and skips elsewhere."""
    addresses = cluster_env()
    if addresses is None:
        message = "no loopback cluster: run `make cluster` first (deploy/cluster/cluster.sh up)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return addresses


@pytest.fixture
def make_cluster_stack(cluster_addresses, tmp_path_factory):
    """A fresh stack on the cluster's brokers (quorum queues) and, unless told otherwise, on Galera via HAProxy."""
    stacks = []

    def build(*, galera: bool = True) -> Stack:
        brokers = [url.split("@", 1)[1] for url in cluster_addresses["CLUSTER_BROKER_URLS"].split(";")]
        mariadb = (
            {
                "host": cluster_addresses["CLUSTER_MARIADB_HOST"],
                "port": int(cluster_addresses["CLUSTER_MARIADB_PORT"]),
                "user": "root",
            }
            if galera
            else MARIADB
        )
        stack = Stack(
            tmp_path_factory.mktemp("cluster"),
            env={
                **CLUSTER_SETTINGS,
                "PAYMENT_FAILURE_RATE": "0.2",
                "WEB_CONCURRENCY": "4",
                "RELAY_CONCURRENCY": "2",
            },
            mariadb=mariadb,
            broker_hosts=brokers,
            rabbitmqctl=rabbitmqctl,
            # provision_access imports its definitions with the local rabbitmqctl, which reaches no cluster node.
            least_privilege=False,
        )
        stacks.append(stack)
        stack.create()
        stack.start_all()
        return stack

    yield build
    for stack in stacks:
        stack.close()
