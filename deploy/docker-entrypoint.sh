#!/bin/sh
# Run a Procfile process by name (the Procfile stays the one place a command line is written),
# or any other command as given.
set -eu
procfile=${PROCFILE:-/app/Procfile}
if [ "$#" -eq 1 ]; then
    line=$(grep -E "^$1: " "$procfile" | head -n 1 | cut -d' ' -f2- || true)
    if [ -n "$line" ]; then
        # exec replaces the shell, so the process gets SIGTERM straight from the runtime.
        eval "exec $line"
    fi
fi
exec "$@"
