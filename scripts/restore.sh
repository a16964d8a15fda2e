#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh: the database, the params file(s) and, on request,
# .env. Destructive: the current database content is replaced.
#
#   scripts/restore.sh [--docker | --local] [--yes] [--with-env] NAME
#
# NAME      a directory under backups/ (e.g. 20250816-021500) or a path to one.
# --docker  the compose stack: stops bot, optimizer and drift-monitor, recreates the database in
#           the timescaledb container (timescaledb_pre_restore/post_restore around pg_restore)
#           and refills params_volume. Chosen automatically when timescaledb is running.
# --local   no Docker: pg_restore --clean --if-exists into DATABASE_URL or the embedded
#           PostgreSQL, and the params file of config/app_config.yaml (PARAMS_PATH overrides it).
# --yes     do not ask for confirmation (needed when stdin is not a terminal).
# --with-env  also put the backup's .env in place (the current one is kept as .env.before-restore).
# Env: BACKUP_DIR (default ./backups), ENV_FILE (default ./.env), COMPOSE, PG_BIN, PYTHON.
set -euo pipefail

PROG="restore"
# shellcheck source=scripts/_backup_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_backup_common.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

list_backups() {
    if compgen -G "$BACKUP_ROOT/*/db.dump" >/dev/null; then
        echo "backups in $BACKUP_ROOT:" >&2
        for d in "$BACKUP_ROOT"/*/db.dump; do
            echo "  $(basename "$(dirname "$d")")" >&2
        done
    else
        echo "no backups in $BACKUP_ROOT (make one with scripts/backup.sh)" >&2
    fi
}

forced=""
yes=0
with_env=0
name=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --docker) forced=docker ;;
        --local) forced=local ;;
        -y | --yes) yes=1 ;;
        --with-env) with_env=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *)
            [[ -z "$name" ]] || die "one backup name only (got '$name' and '$1')"
            name="$1"
            ;;
    esac
    shift
done

if [[ -z "$name" ]]; then
    printf '%s: error: which backup? usage: scripts/restore.sh [--docker|--local] [--yes] NAME\n' "$PROG" >&2
    list_backups
    exit 2
fi
if [[ -d "$name" ]]; then
    src="$(cd "$name" && pwd)"
elif [[ -d "$BACKUP_ROOT/$name" ]]; then
    src="$BACKUP_ROOT/$name"
else
    printf '%s: error: no backup named %s\n' "$PROG" "$name" >&2
    list_backups
    exit 2
fi
[[ -s "$src/db.dump" ]] || die "$src has no db.dump: not a backup made by scripts/backup.sh"

choose_target "$forced"
say "restoring $src ($TARGET): the current database content will be replaced"
if [[ "$yes" != 1 ]]; then
    [[ -t 0 ]] || die "not a terminal: pass --yes to confirm"
    read -r -p "Type 'restore' to continue: " answer
    [[ "$answer" == restore ]] || die "cancelled"
fi

status=0
if [[ "$TARGET" == docker ]]; then
    # --- docker: services that write are stopped first (the bot cancels its orders) -----------
    say "stopping bot, optimizer, drift-monitor"
    compose stop bot optimizer drift-monitor || true
    # A fresh database rather than --clean: TimescaleDB hypertables restore only into an
    # empty database between timescaledb_pre_restore() and timescaledb_post_restore() (skipped
    # when the server has no timescaledb, as with a plain postgres image).
    # shellcheck disable=SC2016  # expanded inside the container
    compose exec -T "$COMPOSE_SERVICE_DB" sh -c '
        set -e
        psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
            -c "DROP DATABASE IF EXISTS \"$POSTGRES_DB\" WITH (FORCE)" \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
        if psql -tAq -U "$POSTGRES_USER" -d postgres \
            -c "SELECT name FROM pg_available_extensions" | grep -qx timescaledb; then
            psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
                -c "CREATE EXTENSION IF NOT EXISTS timescaledb" -c "SELECT timescaledb_pre_restore()"
        fi
    ' >/dev/null || die "cannot recreate the database in the $COMPOSE_SERVICE_DB container"
    # shellcheck disable=SC2016
    compose exec -T "$COMPOSE_SERVICE_DB" sh -c 'exec pg_restore --no-owner -U "$POSTGRES_USER" -d "$POSTGRES_DB"' \
        <"$src/db.dump" || status=$?
    # shellcheck disable=SC2016
    compose exec -T "$COMPOSE_SERVICE_DB" sh -c '
        set -e
        if psql -tAq -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
            -c "SELECT extname FROM pg_extension" | grep -qx timescaledb; then
            psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "SELECT timescaledb_post_restore()"
        fi
        psql -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "ANALYZE"
    ' >/dev/null || die "finishing the restore (timescaledb_post_restore, ANALYZE) failed"
    if [[ -f "$src/params.tar" ]]; then
        compose run --rm --no-deps -T --entrypoint sh params-init \
            -c 'find /data/params -mindepth 1 -delete && tar -C /data/params -xf -' \
            <"$src/params.tar" || die "cannot write params_volume"
        say "params: params_volume restored"
    fi
else
    # --- local --------------------------------------------------------------------------------
    pg_local pg_restore --clean --if-exists --no-owner "$src/db.dump" || status=$?
    if [[ -f "$src/params.tar" ]]; then
        params_path="$(local_params_path)"
        params_dir="$(dirname "$params_path")"
        params_file="$(basename "$params_path")"
        mkdir -p "$params_dir"
        staging="$(mktemp -d "$params_dir/.restore.XXXXXX")"
        tar -C "$staging" -xf "$src/params.tar"
        # The params file last, by rename: a running bot sees one complete file, never half.
        if [[ -f "$staging/$params_file" ]]; then
            mv "$staging/$params_file" "$params_dir/.$params_file.restore"
        fi
        cp -a "$staging/." "$params_dir/"
        rm -rf "$staging"
        if [[ -f "$params_dir/.$params_file.restore" ]]; then
            mv "$params_dir/.$params_file.restore" "$params_dir/$params_file"
        fi
        say "params: restored into $params_dir"
    fi
fi

if [[ -f "$src/env" ]]; then
    if [[ "$with_env" == 1 ]]; then
        if [[ -f "$ENV_FILE" ]]; then
            cp -p "$ENV_FILE" "$ENV_FILE.before-restore"
        fi
        (umask 077 && cp "$src/env" "$ENV_FILE")
        say ".env: restored to $ENV_FILE (previous one in $ENV_FILE.before-restore)"
    elif ! cmp -s "$src/env" "$ENV_FILE" 2>/dev/null; then
        say ".env: the backup's differs from $ENV_FILE; not touched (use --with-env to restore it)"
    fi
fi

if [[ "$status" != 0 ]]; then
    die "pg_restore reported errors (above, exit $status): check the database before starting the bot"
fi
say "database: restored from $src/db.dump"
if [[ "$TARGET" == docker ]]; then
    say "done: start the services again with \`make up\` (migrations run on start)"
else
    say "done: \`python -m bot db status\` shows whether the restored schema needs \`python -m bot db migrate\`"
fi
