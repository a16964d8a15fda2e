"""Position and PnL, risk limits, the order lifecycle and the fill model shared with the simulator."""
