"""`python -m bot synth`: write a synthetic market as a native recording (same seed, same bytes)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bot.exchange.recording import RecordingWriter
from bot.exchange.wire import encode_book_diff, encode_order_books, encode_trades
from bot.market.events import BookDiff, BookSnapshot, MarketEvent, TradePrint
from bot.market.synthetic import (
    DEFAULT_START_US,
    RegimeSpan,
    SynthConfig,
    SynthConfigError,
    SyntheticMarket,
    parse_regime_spec,
)

DEFAULT_ALPHA = SynthConfig().signal_alpha_bps_per_min


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic BTC/JPY market recording",
        description=(
            "Generate a seeded synthetic Coincheck BTC/JPY market (L2 diffs and trades with "
            "regime changes) and write it in the native recording format (.gz compresses)."
        ),
    )
    parser.add_argument("--hours", type=float, required=True, help="length of the market")
    parser.add_argument("--seed", type=int, required=True, help="same seed, same bytes")
    parser.add_argument("--out", type=Path, required=True, help="output file (.jsonl or .jsonl.gz)")
    parser.add_argument(
        "--start",
        default=None,
        help="start time, ISO 8601 (default 2025-08-03T00:00:00Z; naive times are UTC)",
    )
    parser.add_argument(
        "--regimes",
        default=None,
        metavar="SPEC",
        help=(
            "repeating schedule, e.g. trend:30m,meanrev:30m,burst:10m,wide:10m "
            "(regimes: trend[_up|_down], informed, meanrev, noise, burst, wide; "
            "default: random by seed, switching every 20-90 min)"
        ),
    )
    parser.add_argument(
        "--signal-alpha",
        type=float,
        default=DEFAULT_ALPHA,
        metavar="BPS_PER_MIN",
        help="price drift per unit of the latent signal in informed regimes, i.e. how much "
        f"edge the order book carries (default {DEFAULT_ALPHA:g}: "
        "marginal against the spread)",
    )
    parser.set_defaults(func=run)


def parse_start(text: str | None) -> int:
    """ISO 8601 -> µs since the epoch; raises SynthConfigError naming the flag."""
    if text is None:
        return DEFAULT_START_US
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SynthConfigError(
            f"--start {text!r}: not an ISO 8601 time (e.g. 2025-08-03T00:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def write_recording(market: SyntheticMarket, out: Path, source: str) -> tuple[int, int]:
    """Write the market's events to `out`; returns (book messages, trades).

    Byte-reproducible: gzip stores the file name and mtime in its header, so the file is
    written under a fixed name in a private temp dir, its mtime field zeroed, then moved.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".synth-", dir=out.parent))
    tmp = tmp_dir / ("synthetic.jsonl.gz" if out.suffix == ".gz" else "synthetic.jsonl")
    try:
        with RecordingWriter(tmp, source=source) as writer:
            counts = _write_events(writer, market.events())
        if out.suffix == ".gz":
            _zero_gzip_mtime(tmp)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return counts


def _write_events(writer: RecordingWriter, events: Iterator[MarketEvent]) -> tuple[int, int]:
    """Snapshots as REST records, diffs as book frames, same-time trades as one trades frame."""
    books = trades = 0
    batch: list[TradePrint] = []
    for event in events:
        if isinstance(event, TradePrint):
            if batch and batch[0].ts_us != event.ts_us:
                writer.write_frame(batch[0].ts_us, encode_trades(batch))
                batch = []
            batch.append(event)
            trades += 1
            continue
        if batch:
            writer.write_frame(batch[0].ts_us, encode_trades(batch))
            batch = []
        if isinstance(event, BookDiff):
            writer.write_frame(event.ts_us, encode_book_diff(event))
            books += 1
        elif isinstance(event, BookSnapshot):
            writer.write_snapshot(event.ts_us, encode_order_books(event.bids, event.asks))
    if batch:
        writer.write_frame(batch[0].ts_us, encode_trades(batch))
    return books, trades


def _zero_gzip_mtime(path: Path) -> None:
    # RFC 1952: bytes 4-7 of the member header are MTIME; 0 means "no time stored".
    with open(path, "r+b") as fh:
        fh.seek(4)
        fh.write(b"\0\0\0\0")


def _describe(schedule: tuple[RegimeSpan, ...]) -> str:
    parts = []
    for span in schedule[:12]:
        minutes = (span.end_us - span.start_us) / 60e6
        way = {1: "_up", -1: "_down"}.get(span.direction, "")
        parts.append(f"{span.regime.value}{way}:{minutes:.0f}m")
    more = f" (+{len(schedule) - 12} more)" if len(schedule) > 12 else ""
    return ",".join(parts) + more


def run(args: argparse.Namespace) -> int:
    try:
        regimes = parse_regime_spec(args.regimes) if args.regimes else None
        config = SynthConfig(
            seed=args.seed,
            hours=args.hours,
            start_us=parse_start(args.start),
            regimes=regimes,
            signal_alpha_bps_per_min=args.signal_alpha,
        )
    except SynthConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    market = SyntheticMarket(config)
    source = (
        f"synthetic seed={config.seed} hours={config.hours:g} regimes={args.regimes or 'random'}"
        f" signal_alpha={config.signal_alpha_bps_per_min:g}"
    )
    started = time.perf_counter()
    try:
        books, trades = write_recording(market, args.out, source)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(
        f"wrote {args.out}: {books} book messages, {trades} trades over {config.hours:g} h "
        f"in {elapsed:.1f} s; regimes {_describe(market.schedule)}",
        file=sys.stderr,
    )
    return 0
