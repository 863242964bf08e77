#!/bin/sh
# Run a Procfile process by name (the Procfile stays the one place a command line is written),
# or any other command as given.
#
# Under production settings every start first runs Django's deploy checks and refuses to start on
# a warning: production settings pass them clean, so a warning means the environment weakened one
# (DJANGO_SSL_REDIRECT=false, DJANGO_HSTS_SECONDS=0, ...). DEPLOY_CHECK_FAIL_LEVEL=ERROR starts
# anyway, printing the warnings, for a deployment that does so on purpose.
set -eu
if [ "${DJANGO_SETTINGS_MODULE:-}" = "config.settings.production" ]; then
    if ! python manage.py check --deploy --fail-level "${DEPLOY_CHECK_FAIL_LEVEL:-WARNING}" >/dev/null; then
        echo "refusing to start: manage.py check --deploy failed (above)" >&2
        exit 1
    fi
fi
procfile=${PROCFILE:-/app/Procfile}
if [ "$#" -eq 1 ]; then
    line=$(grep -E "^$1: " "$procfile" | head -n 1 | cut -d' ' -f2- || true)
    if [ -n "$line" ]; then
        # exec replaces the shell, so the process gets SIGTERM straight from the runtime.
        eval "exec $line"
    fi
fi
exec "$@"
