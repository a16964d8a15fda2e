"""Event-driven backtester, metrics, HTML report, and the cached-feature fast path."""
