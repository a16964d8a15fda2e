"""Market data: event types, recorded-data loaders, the synthetic market and the L2 book. No I/O libraries."""
