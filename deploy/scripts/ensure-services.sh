#!/usr/bin/env bash
# Make sure MariaDB, RabbitMQ and Redis answer on 127.0.0.1; start them when they are down and we are root.
# Exits non-zero when a server cannot be reached: server tests must run, never skip.
set -euo pipefail

mariadb_up() { mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null 2>&1 || mysqladmin --host=127.0.0.1 --user=root ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
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
if ! redis_up; then
  if [ "$(id -u)" = 0 ] && command -v redis-server >/dev/null; then
    echo "starting Redis"
    # Throttle counters only: nothing kept on disk.
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  wait_for Redis redis_up
fi
echo "MariaDB, RabbitMQ and Redis are up"
