#!/bin/sh
# Container entrypoint: bring the schema up to date (idempotent, advisory-locked, so every
# service may do it at once), then exec the service so it receives SIGTERM directly.
# SKIP_MIGRATIONS=1 skips the migration (one-shot helpers and the exchange simulator).
set -eu

if [ "${SKIP_MIGRATIONS:-0}" != "1" ]; then
    if [ -z "${DATABASE_URL:-}" ]; then
        echo "entrypoint: DATABASE_URL is not set (docker-compose.yml builds it from POSTGRES_* in .env)" >&2
        exit 64
    fi
    attempt=1
    until python -m bot db migrate; do
        if [ "$attempt" -ge 5 ]; then
            echo "entrypoint: database migration failed $attempt times; giving up" >&2
            exit 1
        fi
        echo "entrypoint: migration failed (attempt $attempt); retrying in 3 s" >&2
        attempt=$((attempt + 1))
        sleep 3
    done
fi

exec "$@"
