"""Indicators and the signal engine: pure and deterministic; time comes from the events."""
