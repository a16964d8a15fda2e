"""Optuna-based parameter search with out-of-sample and walk-forward validation."""
