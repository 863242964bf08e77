#!/usr/bin/env bash
# A loopback cluster on one machine: 3 RabbitMQ nodes (quorum queues), 3 MariaDB Galera nodes
# and HAProxy in front of Galera (one writer, the others as backups).
#
#   cluster.sh up | down | status | env
#   cluster.sh rabbit-start N | rabbit-stop N | rabbit-kill N | rabbit-restart N | rabbit-pid N
#   cluster.sh galera-start N | galera-stop N | galera-kill N | galera-pid N
#   cluster.sh rabbitmqctl N ARGS...      (rabbitmqctl against node N)
#   cluster.sh mariadb N ARGS...          (the mariadb client on node N's socket)
#
# Idempotent: `up` starts what is not running (a fresh cluster when nothing is), `down` stops
# everything it started and removes its state directory. Installs haproxy, galera-4, rsync and
# mariadb-server when missing and run as root. Every port is on 127.0.0.1:
#   RabbitMQ AMQP 5681-5683, Erlang distribution 25681-25683 (epmd on 4369, shared);
#   Galera SQL 3311-3313, group communication 4571-4573, IST 4581-4583, SST 4591-4593;
#   HAProxy 3310 (MySQL protocol), its stats on 8404.
set -euo pipefail

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/saga-cluster}
NODES=(1 2 3)
RABBIT_BIN=/usr/lib/rabbitmq/bin
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
HAPROXY_PORT=3310
HAPROXY_STATS_PORT=8404
COOKIE=saga-cluster-cookie-0123456789

amqp_port() { echo $((5680 + $1)); }
dist_port() { echo $((25680 + $1)); }
sql_port() { echo $((3310 + $1)); }
gcomm_port() { echo $((4570 + $1)); }
ist_port() { echo $((4580 + $1)); }
sst_port() { echo $((4590 + $1)); }
rabbit_node() { echo "saga-c$1@localhost"; }

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# --- installation ------------------------------------------------------------------------
install_missing() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  [ -e "$GALERA_PROVIDER" ] || missing+=(galera-4)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  command -v lsof >/dev/null || missing+=(lsof)
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || missing+=(rabbitmq-server)
  [ ${#missing[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: sudo apt-get install ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq
  # Debian starts the services it installs: the cluster runs its own copies, so keep those out.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 2))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "timed out after ${seconds}s waiting for $what"
}

# --- RabbitMQ ---------------------------------------------------------------------------
rabbit_dir() { echo "$CLUSTER_DIR/rabbitmq/node$1"; }

rabbit_env() {  # the environment of node $1 (or of the CLI talking to the cluster)
  local n=$1 dir
  dir=$(rabbit_dir "$n")
  echo HOME="$CLUSTER_DIR/rabbitmq" \
    RABBITMQ_CONF_ENV_FILE="$CLUSTER_DIR/rabbitmq/rabbitmq-env.conf" \
    RABBITMQ_NODENAME="$(rabbit_node "$n")" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
    RABBITMQ_DIST_PORT="$(dist_port "$n")" \
    RABBITMQ_CONFIG_FILE="$CLUSTER_DIR/rabbitmq/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$CLUSTER_DIR/rabbitmq/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_MNESIA_DIR="$dir/mnesia/$(rabbit_node "$n")" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$dir/rabbit.pid" \
    ERL_EPMD_ADDRESS=127.0.0.1
}

rabbitmqctl_n() {  # rabbitmqctl_n N ARGS...
  local n=$1
  shift
  env $(rabbit_env "$n") "$RABBIT_BIN/rabbitmqctl" -n "$(rabbit_node "$n")" "$@"
}

rabbit_prepare() {
  mkdir -p "$CLUSTER_DIR/rabbitmq"
  local base=$CLUSTER_DIR/rabbitmq
  [ -f "$base/.erlang.cookie" ] || { echo -n "$COOKIE" >"$base/.erlang.cookie"; chmod 400 "$base/.erlang.cookie"; }
  : >"$base/rabbitmq-env.conf"
  echo '[].' >"$base/enabled_plugins"
  # autoheal: a node cut off from the others (SIGSTOP, a partition) rejoins by restarting its
  # side; quorum queues elect new leaders among the majority meanwhile.
  cat >"$base/rabbitmq.conf" <<EOF
cluster_partition_handling = autoheal
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.2
log.file.level = info
log.console = false
EOF
}

rabbit_pidfile() { echo "$(rabbit_dir "$1")/rabbit.pid"; }

rabbit_start() {
  local n=$1 dir
  dir=$(rabbit_dir "$n")
  if alive "$(rabbit_pidfile "$n")"; then return 0; fi
  mkdir -p "$dir/log" "$dir/mnesia"
  log "starting RabbitMQ node $(rabbit_node "$n") on 127.0.0.1:$(amqp_port "$n")"
  # One scheduler per core at most and no busy-waiting: three nodes share two cores with the app.
  env $(rabbit_env "$n") RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none" \
    setsid "$RABBIT_BIN/rabbitmq-server" >"$dir/log/startup.log" 2>&1 </dev/null &
  rabbitmqctl_n "$n" wait --timeout 120 "$(rabbit_pidfile "$n")" >/dev/null 2>&1 \
    || { tail -30 "$dir/log/startup.log" >&2; die "RabbitMQ node $n did not start"; }
}

rabbit_stop() {  # a clean stop of node $1
  local n=$1 pidfile
  pidfile=$(rabbit_pidfile "$n")
  alive "$pidfile" || return 0
  rabbitmqctl_n "$n" stop "$pidfile" >/dev/null 2>&1 || rabbit_kill "$n"
}

rabbit_restart() {  # one step of a rolling restart: only when every quorum queue keeps a majority without node $1
  local n=$1
  env $(rabbit_env "$n") "$RABBIT_BIN/rabbitmq-upgrade" -n "$(rabbit_node "$n")" await_online_quorum_plus_one -t 120 >/dev/null
  rabbit_stop "$n"
  rabbit_start "$n"
  rabbitmqctl_n "$n" await_online_nodes 3 --timeout 120 >/dev/null
}

rabbit_kill() {
  local n=$1 pidfile pid
  pidfile=$(rabbit_pidfile "$n")
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  # The node's port helpers (erl_child_setup, inet_gethost) die with it; a stale pid file must not.
  rm -f "$pidfile"
}

rabbit_up() {
  rabbit_prepare
  local running=0
  for n in "${NODES[@]}"; do alive "$(rabbit_pidfile "$n")" && running=$((running + 1)); done
  if [ "$running" = 0 ]; then
    rm -rf "$CLUSTER_DIR"/rabbitmq/node*
  fi
  rabbit_start 1
  for n in 2 3; do
    if alive "$(rabbit_pidfile "$n")"; then continue; fi
    local fresh=false
    [ -d "$(rabbit_dir "$n")/mnesia/$(rabbit_node "$n")" ] || fresh=true
    rabbit_start "$n"
    if $fresh; then
      log "joining $(rabbit_node "$n") to $(rabbit_node 1)"
      rabbitmqctl_n "$n" stop_app >/dev/null
      rabbitmqctl_n "$n" join_cluster "$(rabbit_node 1)" >/dev/null 2>&1
      rabbitmqctl_n "$n" start_app >/dev/null
    fi
  done
  rabbitmqctl_n 1 await_online_nodes 3 --timeout 120 >/dev/null 2>&1 || rabbitmqctl_n 1 cluster_status >&2
  # The same user and password on every node: the cluster shares its users.
  rabbitmqctl_n 1 set_permissions -p / guest '.*' '.*' '.*' >/dev/null
}

# --- Galera -----------------------------------------------------------------------------
galera_dir() { echo "$CLUSTER_DIR/galera/node$1"; }
galera_cnf() { echo "$(galera_dir "$1")/my.cnf"; }
galera_pidfile() { echo "$(galera_dir "$1")/mariadbd.pid"; }
galera_socket() { echo "$(galera_dir "$1")/mariadbd.sock"; }

galera_write_cnf() {
  local n=$1 dir donors addresses=""
  dir=$(galera_dir "$n")
  for m in "${NODES[@]}"; do addresses+="${addresses:+,}127.0.0.1:$(gcomm_port "$m")"; done
  # A joiner takes its state from a backup node, never from the writer (galera-1, or galera-2 once
  # galera-1 is gone): an rsync donor blocks its writes while it copies.
  case $n in 1) donors="galera-3,galera-2," ;; 2) donors="galera-3,galera-1," ;; 3) donors="galera-2,galera-1," ;; esac
  cat >"$(galera_cnf "$n")" <<EOF
[mariadbd]
user = mysql
datadir = $dir/data
socket = $(galera_socket "$n")
pid-file = $(galera_pidfile "$n")
log-error = $dir/error.log
port = $(sql_port "$n")
bind-address = 127.0.0.1
skip-name-resolve
max_connections = 600
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
default_storage_engine = InnoDB
innodb_buffer_pool_size = 128M
innodb_log_file_size = 64M
# Durability comes from replication to the other nodes (a commit is certified cluster-wide).
innodb_flush_log_at_trx_commit = 2
binlog_format = ROW
innodb_autoinc_lock_mode = 2

wsrep_on = ON
wsrep_provider = $GALERA_PROVIDER
wsrep_cluster_name = saga-cluster
wsrep_cluster_address = gcomm://$addresses
wsrep_node_name = galera-$n
wsrep_node_address = 127.0.0.1:$(gcomm_port "$n")
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$n")
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=256M;evs.suspect_timeout=PT5S;evs.inactive_timeout=PT10S"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$(sst_port "$n")
wsrep_sst_donor = $donors
wsrep_slave_threads = 2
# Reads wait for the write sets this node has received: a client that moved to this node after a
# failover reads what the old writer committed.
wsrep_sync_wait = 1
EOF
}

galera_started() {  # node $1 is Synced and answers over TCP
  local state
  state=$(mariadb --host=127.0.0.1 --port="$(sql_port "$1")" --user=root -N -e \
    "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2)
  [ "$state" = Synced ]
}

galera_start() {  # galera_start N [--bootstrap]
  local n=$1 bootstrap=${2:-} dir position=""
  dir=$(galera_dir "$n")
  if alive "$(galera_pidfile "$n")"; then return 0; fi
  mkdir -p "$dir"
  galera_write_cnf "$n"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --defaults-file="$(galera_cnf "$n")" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  elif [ -z "$bootstrap" ]; then
    # After a crash the state file says seqno -1: recover the position from InnoDB, so that the
    # node catches up by IST (the write sets it missed) instead of a full state transfer.
    mariadbd --defaults-file="$(galera_cnf "$n")" --wsrep-recover --log-error="$dir/recover.log" >/dev/null 2>&1 || true
    position=$(grep -o 'Recovered position: [^ ]*' "$dir/recover.log" 2>/dev/null | tail -1 | cut -d' ' -f3 || true)
  fi
  chown -R mysql:mysql "$dir"
  log "starting Galera node galera-$n on 127.0.0.1:$(sql_port "$n")${bootstrap:+ (new cluster)}"
  local args=(--defaults-file="$(galera_cnf "$n")")
  [ -n "$bootstrap" ] && args+=(--wsrep-new-cluster)
  [ -n "$position" ] && args+=(--wsrep-start-position="$position")
  setsid mariadbd "${args[@]}" >>"$dir/stdout.log" 2>&1 </dev/null &
  for _ in $(seq 1 360); do
    galera_started "$n" && return 0
    kill -0 $! 2>/dev/null || { tail -40 "$dir/error.log" >&2; die "Galera node $n exited"; }
    sleep 0.5
  done
  tail -40 "$dir/error.log" >&2
  die "Galera node $n did not reach Synced"
}

galera_kill() {
  local n=$1 pidfile pid
  pidfile=$(galera_pidfile "$n")
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$pidfile"
}

galera_stop() {
  local n=$1 pidfile pid
  pidfile=$(galera_pidfile "$n")
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  galera_kill "$n"
}

galera_up() {
  mkdir -p "$CLUSTER_DIR/galera"
  local running=0
  for n in "${NODES[@]}"; do alive "$(galera_pidfile "$n")" && running=$((running + 1)); done
  if [ "$running" = 0 ]; then
    rm -rf "$CLUSTER_DIR"/galera/node*
    galera_start 1 --bootstrap
    # The users the tests and HAProxy's check connect as, created once and replicated.
    mariadb --socket="$(galera_socket 1)" --user=root -e "
      CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      CREATE USER IF NOT EXISTS 'haproxy'@'127.0.0.1';"
  fi
  for n in "${NODES[@]}"; do galera_start "$n"; done
}

# --- HAProxy ----------------------------------------------------------------------------
haproxy_pidfile() { echo "$CLUSTER_DIR/haproxy/haproxy.pid"; }

haproxy_up() {
  local dir=$CLUSTER_DIR/haproxy
  mkdir -p "$dir"
  # One writer: galera-1 takes every connection while it is up; galera-2 and galera-3 are backups.
  # The one-entry stick table keeps connections on the node they moved to when galera-1 comes back
  # (no second writer, no certification conflicts from a fail-back); on-marked-down cuts the
  # sessions of a dead node at once instead of leaving clients on a half-open socket.
  cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn 4000
    pidfile $(haproxy_pidfile)
    daemon

defaults
    mode tcp
    timeout connect 3s
    timeout client 8h
    timeout server 8h
    timeout check 2s

listen galera
    bind 127.0.0.1:$HAPROXY_PORT
    option tcpka
    option mysql-check user haproxy post-41
    stick-table type ip size 1 nopurge
    stick on dst
    default-server inter 1s fall 2 rise 3 on-marked-down shutdown-sessions
    server galera-1 127.0.0.1:$(sql_port 1) check
    server galera-2 127.0.0.1:$(sql_port 2) check backup
    server galera-3 127.0.0.1:$(sql_port 3) check backup

listen stats
    mode http
    bind 127.0.0.1:$HAPROXY_STATS_PORT
    stats enable
    stats uri /stats
EOF
  haproxy -c -q -f "$dir/haproxy.cfg"
  if alive "$(haproxy_pidfile)"; then
    # -sf: the running proxy hands over to one with this configuration.
    haproxy -f "$dir/haproxy.cfg" -sf "$(cat "$(haproxy_pidfile)")"
  else
    log "starting HAProxy on 127.0.0.1:$HAPROXY_PORT (galera-1 writer, galera-2/3 backups)"
    haproxy -f "$dir/haproxy.cfg"
  fi
  wait_for 30 "HAProxy to reach a Galera node" \
    mariadb --host=127.0.0.1 --port="$HAPROXY_PORT" --user=root -e "SELECT 1"
}

# --- the whole cluster ------------------------------------------------------------------
env_file() {
  local hosts=""
  for n in "${NODES[@]}"; do hosts+="${hosts:+;}amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"; done
  cat <<EOF
CLUSTER_DIR=$CLUSTER_DIR
CLUSTER_BROKER_URLS=$hosts
CLUSTER_MARIADB_HOST=127.0.0.1
CLUSTER_MARIADB_PORT=$HAPROXY_PORT
CLUSTER_RABBIT_NODES=$(rabbit_node 1),$(rabbit_node 2),$(rabbit_node 3)
EOF
}

up() {
  install_missing
  mkdir -p "$CLUSTER_DIR"
  chmod 755 "$CLUSTER_DIR"
  rabbit_up
  galera_up
  haproxy_up
  env_file >"$CLUSTER_DIR/cluster.env"
  status
}

down() {
  if alive "$(haproxy_pidfile)"; then kill "$(cat "$(haproxy_pidfile)")" 2>/dev/null || true; fi
  for n in 3 2 1; do galera_stop "$n"; done
  for n in 3 2 1; do rabbit_kill "$n"; done
  # Whatever else still runs out of the state directory (a node's helpers, an SST rsync daemon).
  if [ -d "$CLUSTER_DIR" ]; then
    local pids
    pids=$(lsof -t +D "$CLUSTER_DIR" 2>/dev/null || true)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    rm -rf "$CLUSTER_DIR"
  fi
  log "stopped and removed $CLUSTER_DIR"
}

status() {
  local ok=0
  for n in "${NODES[@]}"; do
    if alive "$(rabbit_pidfile "$n")"; then echo "rabbitmq $(rabbit_node "$n") 127.0.0.1:$(amqp_port "$n") up"
    else echo "rabbitmq $(rabbit_node "$n") down"; ok=1; fi
  done
  for n in "${NODES[@]}"; do
    if galera_started "$n"; then echo "galera-$n 127.0.0.1:$(sql_port "$n") Synced"
    else echo "galera-$n down or not synced"; ok=1; fi
  done
  if alive "$(haproxy_pidfile)"; then echo "haproxy 127.0.0.1:$HAPROXY_PORT up"; else echo "haproxy down"; ok=1; fi
  return $ok
}

command=${1:-}
shift || true
case $command in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_file ;;
  rabbit-start) rabbit_start "$1" ;;
  rabbit-stop) rabbit_stop "$1" ;;
  rabbit-kill) rabbit_kill "$1" ;;
  rabbit-restart) rabbit_restart "$1" ;;
  rabbit-pid) cat "$(rabbit_pidfile "$1")" ;;
  galera-start) galera_start "$1" ;;
  galera-stop) galera_stop "$1" ;;
  galera-kill) galera_kill "$1" ;;
  galera-pid) cat "$(galera_pidfile "$1")" ;;
  rabbitmqctl) n=$1; shift; rabbitmqctl_n "$n" "$@" ;;
  mariadb) n=$1; shift; mariadb --socket="$(galera_socket "$n")" --user=root "$@" ;;
  *) sed -n "2,16p" "$0" >&2; exit 2 ;;
esac
