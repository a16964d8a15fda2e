"""`python -m optimizer run-once | serve | enqueue | rollback | versions`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import (
    AppConfig,
    ConfigError,
    load_app_config,
    load_optimizer_config,
    load_param_template,
)
from bot.datafile import DataFileError
from bot.storage.errors import StorageError

_log = logging.getLogger("optimizer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=__doc__)
    parser.add_argument("--config", default="config/app_config.yaml", help="app_config.yaml")
    parser.add_argument(
        "--optimizer-config", default="config/optimizer_config.yaml", help="optimizer_config.yaml"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run-once", help="one optimization run in the foreground")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help="market data file (CSV/ZIP/.jsonl[.gz])")
    source.add_argument("--hours", type=float, help="recent market data from the database")
    p.add_argument("--trials", type=int, help="Optuna trials (default: search.trials)")
    p.add_argument("--workers", type=int, help="local processes sharing the study")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--no-db", action="store_true", help="record nothing; one in-memory study")
    p.add_argument("--dry-run", action="store_true", help="validate but never write params")
    p.set_defaults(func=cmd_run_once)

    p = sub.add_parser("serve", help="claim and run optimization jobs from the database")
    p.add_argument("--workers", type=int, help="local processes per job (default: worker.workers)")
    p.add_argument("--exit-when-idle", action="store_true", help="stop when the queue is empty")
    p.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("enqueue", help="ask for an optimization (a job row)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", help="market data file, as the worker sees it")
    source.add_argument("--hours", type=float, help="recent market data from the database")
    p.add_argument("--trials", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--reason", default="requested by hand")
    p.add_argument("--requested-by", default="make optimize")
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("rollback", help="make a kept parameter version live again")
    p.add_argument("--to", metavar="VERSION", help="version (or prefix); default: the previous")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("versions", help="list kept parameter versions")
    p.set_defaults(func=cmd_versions)
    return parser


def _database_url(app: AppConfig) -> str:
    from bot.storage.connection import resolve_database_url
    from bot.storage.migrations import ensure_schema

    url = resolve_database_url(app.database)
    ensure_schema(url)
    return url


def cmd_run_once(args: argparse.Namespace) -> int:
    from bot.storage.optimizer_store import OptimizerStore
    from optimizer.run import RunRequest, run_optimization

    app = load_app_config(args.config)
    config = load_optimizer_config(args.optimizer_config)
    template = load_param_template(app.params.template_path)
    workers = args.workers or config.worker.workers
    if workers < 1 or (args.trials is not None and args.trials < 1):
        raise ConfigError("--workers and --trials must be at least 1")
    if args.no_db and workers > 1:
        raise ConfigError("--workers > 1 shares the study through the database: drop --no-db")
    if args.no_db and args.data is None:
        raise ConfigError("--no-db needs --data FILE (recent data comes from the database)")
    request = RunRequest(
        data=args.data,
        hours=args.hours,
        trials=args.trials,
        workers=workers,
        write=not args.dry_run,
    )
    store = None if args.no_db else OptimizerStore(_database_url(app))
    try:
        report = run_optimization(
            request,
            config=config,
            template=template,
            account=app.account,
            params_path=Path(app.params.path),
            store=store,
        )
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(f"{report.status}: {report.reason}")
        print(
            f"trials: {report.trials} in {report.seconds:.1f} s; written: {report.written or '—'}"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from optimizer.worker import ServeOptions, serve

    app = load_app_config(args.config)
    config = load_optimizer_config(args.optimizer_config)
    template = load_param_template(app.params.template_path)
    serve(
        _database_url(app),
        config=config,
        template=template,
        account=app.account,
        params_path=Path(app.params.path),
        options=ServeOptions(args.exit_when_idle, args.max_jobs, args.workers),
    )
    return 0


def cmd_enqueue(args: argparse.Namespace) -> int:
    from bot.storage.optimizer_store import OptimizerStore
    from optimizer.jobs import parse_job_request

    app = load_app_config(args.config)
    payload = {
        k: v
        for k, v in {
            "data": args.data,
            "hours": args.hours,
            "trials": args.trials,
            "workers": args.workers,
        }.items()
        if v is not None
    }
    parse_job_request(payload)
    with OptimizerStore(_database_url(app)) as store:
        job_id = store.enqueue_job(args.requested_by, args.reason, payload)
    print(job_id)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from optimizer.params_writer import rollback

    app = load_app_config(args.config)
    version = rollback(Path(app.params.path), args.to)
    print(f"rolled back {app.params.path} to {version.version}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from optimizer.params_writer import current_version, list_versions

    app = load_app_config(args.config)
    path = Path(app.params.path)
    live = current_version(path)
    for v in list_versions(path):
        print(f"{'*' if live and v.version == live.version else ' '} {v.version}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from optimizer.jobs import JobRequestError
    from optimizer.params_writer import ParamsWriteError
    from optimizer.run import RunError
    from optimizer.search import SearchError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DataFileError, JobRequestError, ParamsWriteError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (StorageError, SearchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
