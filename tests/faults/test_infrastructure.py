"""The broker and the database drop every connection while orders pour in."""

import time

import pytest

from tests.e2e.test_delivery import kill_database_connections, rabbitmqctl_close_vhost_connections
from tests.faults.harness import Load, settle

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


def test_broker_drops_every_connection_mid_load(fault_stack, products):
    # Not `rabbitmqctl stop_app`: other test runs share the broker. Closing every connection of
    # this stack's vhost is the same event for its processes: every socket to the broker dies at once.
    stack = fault_stack
    load = Load(stack, products=products)
    load.wait_placed(0.25)
    rabbitmqctl_close_vhost_connections(stack.vhost)
    load.wait_placed(0.6)
    rabbitmqctl_close_vhost_connections(stack.vhost)
    fault_over = time.monotonic()

    settle(stack, load, fault="RabbitMQ drops every connection (twice)", since=fault_over)


def test_database_connections_killed_mid_load(fault_stack, products):
    stack = fault_stack
    load = Load(stack, products=products)
    load.wait_placed(0.25)
    killed = kill_database_connections(stack)
    load.wait_placed(0.6)
    killed += kill_database_connections(stack)
    fault_over = time.monotonic()

    figures = settle(stack, load, fault="MariaDB connections KILLed (twice)", since=fault_over)

    assert killed > 0, figures
