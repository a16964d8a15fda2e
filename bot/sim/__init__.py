"""A Coincheck-compatible exchange server replaying recorded or synthetic data.

- `server.ExchangeSimulator`: aiohttp REST + public WebSocket on one port, auth, replay, faults.
- `venue.Venue`: orders against the replayed book with `bot.trading.fills`; exact balances.
- `faults.FaultSpec` / `faults.FaultInjector`: the `--faults` spec, deterministic under a seed.
"""
