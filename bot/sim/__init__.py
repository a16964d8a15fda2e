"""A Coincheck-compatible exchange server replaying recorded or synthetic data."""
