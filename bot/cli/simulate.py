"""`python -m bot simulate`: backtest recorded data with the live strategy core."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.backtest.progress import ProgressBar
from bot.backtest.runner import BacktestResult, run_backtest
from bot.config import load_app_config, load_trade_params
from bot.datafile import DataFileError, MarketDataFile

DEFAULT_PARAMS = "config/trade_config.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="backtest a recorded or synthetic data file")
    p.add_argument("--data", required=True, help="CSV/ZIP export or .jsonl[.gz] recording")
    p.add_argument(
        "--params", default=DEFAULT_PARAMS, help=f"trade_config.yaml (default {DEFAULT_PARAMS})"
    )
    p.add_argument(
        "--config", default="config/app_config.yaml", help="app_config.yaml (starting balances)"
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params = load_trade_params(args.params)
    app = load_app_config(args.config)
    try:
        data = MarketDataFile(args.data)
        bar = ProgressBar(data.fraction_read, label="simulate")
        try:
            result = run_backtest(data, params, app.account, progress=bar.update)
        finally:
            bar.close()
    except DataFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if data.report.malformed:
        shown = ", ".join(f"line {m.line}: {m.reason}" for m in data.report.malformed[:5])
        more = len(data.report.malformed) - 5
        print(
            f"warning: skipped {len(data.report.malformed)} malformed rows of {data.report.rows} "
            f"({shown}{f', and {more} more' if more > 0 else ''})",
            file=sys.stderr,
        )
    if args.report:
        from bot.backtest.report import write_report

        write_report(result, args.report, str(args.data))
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(format_table(result, str(args.data)))
        if args.report:
            print(f"report: {args.report}")
    return 0


def _fmt(value: object, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def format_table(result: BacktestResult, label: str) -> str:
    m = result.metrics
    rows = [
        ("data", label),
        ("events (levels + trades)", f"{result.level_events:,}"),
        ("messages", f"{result.events:,}"),
        ("trades (round trips)", f"{m.trades:,}"),
        ("win rate", _fmt(m.win_rate, ".1%")),
        ("profit factor", _fmt(m.profit_factor, ".2f")),
        ("sharpe (per trade)", _fmt(m.sharpe, ".3f")),
        ("max drawdown JPY", f"{m.max_drawdown_jpy:,.2f}"),
        ("PnL JPY (net)", f"{m.pnl_jpy:,.2f}"),
        ("fees JPY", f"{m.fees_jpy:,.2f}"),
        ("events/s", _fmt(result.events_per_sec, ",.0f")),
    ]
    if result.halt_reason:
        rows.append(("HALTED", result.halt_reason))
    if result.refusals:
        rows.append(
            ("entries refused", ", ".join(f"{k} {v}" for k, v in sorted(result.refusals.items())))
        )
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
