"""Detects a decaying edge or a changed market and asks the optimizer for a new run."""
