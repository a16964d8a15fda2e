# shellcheck shell=bash
# shellcheck disable=SC2034  # BACKUP_ROOT, ENV_FILE, TARGET, COMPOSE_CMD are used by the callers
# Shared by scripts/backup.sh and scripts/restore.sh: where things are and how to reach the
# database, in Docker (the compose timescaledb service) or locally (DATABASE_URL or the
# embedded PostgreSQL, through `python -m bot db-url --exec`).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKUP_ROOT="${BACKUP_DIR:-$ROOT/backups}"
ENV_FILE="${ENV_FILE:-$ROOT/.env}"
COMPOSE_SERVICE_DB="timescaledb"

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

say() {
    printf '%s: %s\n' "$PROG" "$*"
}

# Python of the project (the venv when there is one).
python_cmd() {
    if [[ -n "${PYTHON:-}" ]]; then
        printf '%s\n' "$PYTHON"
    elif [[ -x "$ROOT/.venv/bin/python" ]]; then
        printf '%s\n' "$ROOT/.venv/bin/python"
    else
        command -v python3 || die "no Python found: run \`make install\` or set PYTHON"
    fi
}

# The compose command as an array in COMPOSE_CMD: $COMPOSE, else `docker compose`, else
# `docker-compose`. Returns 1 when neither exists.
find_compose() {
    COMPOSE_CMD=()
    if [[ -n "${COMPOSE:-}" ]]; then
        read -r -a COMPOSE_CMD <<<"$COMPOSE"
    elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        COMPOSE_CMD=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE_CMD=(docker-compose)
    else
        return 1
    fi
}

# TARGET=docker when the compose timescaledb service is running, else local. --docker/--local
# (or BACKUP_TARGET=docker|local) force the choice.
choose_target() {
    local forced="${1:-${BACKUP_TARGET:-}}"
    case "$forced" in
        docker)
            find_compose || die "--docker: neither \`docker compose\` nor docker-compose is installed"
            TARGET=docker
            ;;
        local)
            TARGET=local
            ;;
        "")
            TARGET=local
            if find_compose && [[ -n "$(cd "$ROOT" && "${COMPOSE_CMD[@]}" ps -q "$COMPOSE_SERVICE_DB" 2>/dev/null)" ]]; then
                TARGET=docker
            fi
            ;;
        *)
            die "unknown target '$forced' (use docker or local)"
            ;;
    esac
}

compose() {
    (cd "$ROOT" && "${COMPOSE_CMD[@]}" "$@")
}

# Absolute path of the params file (local runs): PARAMS_PATH, else app_config's params.path.
local_params_path() {
    local py path
    py="$(python_cmd)"
    path="${PARAMS_PATH:-$(cd "$ROOT" && "$py" -c 'from bot.config import load_app_config as l; print(l("config/app_config.yaml").params.path)')}" \
        || die "cannot read params.path from config/app_config.yaml"
    case "$path" in
        /*) printf '%s\n' "$path" ;;
        *) printf '%s\n' "$ROOT/$path" ;;
    esac
}

# Runs a PostgreSQL client (pg_dump, pg_restore, psql) against the local database:
# `pg_local TOOL ARGS...` adds --dbname. DATABASE_URL (or app_config's database.url) wins;
# otherwise the embedded server is started and kept up while the tool runs. The tool comes
# from $PG_BIN, else the embedded server's own binaries (same version), else PATH.
pg_local() {
    local py
    py="$(python_cmd)"
    # shellcheck disable=SC2016  # expanded by the inner bash, with DATABASE_URL set
    (cd "$ROOT" && "$py" -m bot db-url --exec bash -c '
        tool="$1"; shift
        bin="${PG_BIN:-${PG_BIN_DIR:-}}"
        if [[ -n "$bin" ]]; then tool="$bin/$tool"; fi
        command -v "$tool" >/dev/null 2>&1 \
            || { echo "$tool: not found (install the PostgreSQL client tools or set PG_BIN)" >&2; exit 127; }
        exec "$tool" --dbname="$DATABASE_URL" "$@"
    ' pg_local "$@")
}
