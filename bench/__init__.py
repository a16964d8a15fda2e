"""Benchmarks: `python -m bench [NAME ...]` prints one JSON object per line.

Each module here defines `run() -> list[Measurement]`; `make bench` runs them all.
"""
