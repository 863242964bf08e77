#!/usr/bin/env bash
# Make sure MariaDB and RabbitMQ answer on 127.0.0.1; start them when they are down and we are root.
# Exits non-zero when a server cannot be reached: server tests must run, never skip.
set -euo pipefail

mariadb_up() { mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null 2>&1 || mysqladmin --host=127.0.0.1 --user=root ping >/dev/null 2>&1; }
rabbitmq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && rabbitmqctl -q status >/dev/null 2>&1; }

wait_for() {
  local name=$1 check=$2
  for _ in $(seq 1 60); do
    if $check; then return 0; fi
    sleep 1
  done
  echo "$name did not come up on 127.0.0.1" >&2
  return 1
}

if ! mariadb_up; then
  if [ "$(id -u)" = 0 ] && command -v mariadbd >/dev/null; then
    echo "starting MariaDB"
    # --pidfile: other mariadbd processes (the loopback Galera nodes of `make cluster`) are not this server.
    start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid --exec "$(command -v mariadbd)"
  fi
  wait_for MariaDB mariadb_up
fi

if ! rabbitmq_up; then
  if [ "$(id -u)" = 0 ] && command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached || true
  fi
  wait_for RabbitMQ rabbitmq_up
fi
echo "MariaDB and RabbitMQ are up"
