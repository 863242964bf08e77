#!/bin/sh
# Liveness for processes without an HTTP port (consumers, beat): true while this
# network namespace holds an established TCP connection to the broker's port.
# A consumer reconnects by itself; one that has held none for the probe's whole
# failure window is stuck and is restarted.
port_hex=$(printf '%04X' "${BROKER_PORT:-5672}")
exec awk -v port=":$port_hex" '
    FNR > 1 && $4 == "01" && substr($3, length($3) - 4) == port { found = 1; exit }
    END { exit found ? 0 : 1 }
' /proc/net/tcp /proc/net/tcp6
