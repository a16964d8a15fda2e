#!/usr/bin/env bash
# Back up everything needed to rebuild the bot's state: the database (pg_dump custom format),
# the params volume (trade_config.yaml and the optimizer's kept versions) and .env, into
# backups/<YYYYmmdd-HHMMSS>/.
#
#   scripts/backup.sh [--docker | --local] [--name NAME]
#
# --docker  the compose stack: `docker compose exec timescaledb pg_dump`, params_volume via
#           the app image. Chosen automatically when the timescaledb service is running.
# --local   no Docker: DATABASE_URL, else the embedded PostgreSQL (var/pg), and the params file
#           of config/app_config.yaml (PARAMS_PATH overrides it).
# Env: BACKUP_DIR (default ./backups), ENV_FILE (default ./.env), COMPOSE (e.g. "docker-compose"),
# PG_BIN (client tools directory for --local), PYTHON.
set -euo pipefail

PROG="backup"
# shellcheck source=scripts/_backup_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_backup_common.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

forced=""
name=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --docker) forced=docker ;;
        --local) forced=local ;;
        --name)
            [[ $# -ge 2 ]] || die "--name needs a value"
            name="$2"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

choose_target "$forced"
name="${name:-$(date -u +%Y%m%d-%H%M%S)}"
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "backup name '$name' may only hold letters, digits, . _ -"
dest="$BACKUP_ROOT/$name"
if [[ -e "$dest" ]]; then
    die "$dest already exists; choose another --name"
fi
umask 077
mkdir -p "$dest.partial"
trap 'rm -rf "$dest.partial"' EXIT
say "backing up ($TARGET) into $dest"

# --- database ---------------------------------------------------------------------------------
if [[ "$TARGET" == docker ]]; then
    # shellcheck disable=SC2016  # expanded inside the container
    compose exec -T "$COMPOSE_SERVICE_DB" sh -c 'exec pg_dump -Fc -U "$POSTGRES_USER" -d "$POSTGRES_DB"' \
        >"$dest.partial/db.dump" || die "pg_dump in the $COMPOSE_SERVICE_DB container failed"
else
    pg_local pg_dump -Fc --no-owner --file="$dest.partial/db.dump" \
        || die "pg_dump of the local database failed"
fi
[[ -s "$dest.partial/db.dump" ]] || die "the database dump is empty"
say "database: $(du -h "$dest.partial/db.dump" | cut -f1) (pg_dump custom format)"

# --- params -----------------------------------------------------------------------------------
if [[ "$TARGET" == docker ]]; then
    compose run --rm --no-deps -T --entrypoint tar params-init -C /data/params -cf - . \
        >"$dest.partial/params.tar" || die "cannot read params_volume"
else
    params_path="$(local_params_path)"
    params_dir="$(dirname "$params_path")"
    if [[ -d "$params_dir" ]]; then
        tar -C "$params_dir" -cf "$dest.partial/params.tar" .
    else
        say "params: $params_dir does not exist (nothing written yet); storing an empty archive"
        tar -cf "$dest.partial/params.tar" -T /dev/null
    fi
fi
say "params: $(tar -tf "$dest.partial/params.tar" | grep -c -v '/$' || true) file(s)"

# --- .env -------------------------------------------------------------------------------------
if [[ -f "$ENV_FILE" ]]; then
    cp "$ENV_FILE" "$dest.partial/env"
    say ".env: saved (it holds secrets: keep the backup private)"
else
    say ".env: $ENV_FILE does not exist (skipped)"
fi

{
    echo "created_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "target=$TARGET"
    echo "git_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ "$TARGET" == local ]]; then
        echo "database=$(cd "$ROOT" && "$(python_cmd)" -m bot db-url --masked 2>/dev/null || echo unknown)"
    fi
} >"$dest.partial/MANIFEST"

mv "$dest.partial" "$dest"
trap - EXIT
say "done: $dest"
say "restore with: scripts/restore.sh $name"
