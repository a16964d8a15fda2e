"""Coincheck connectivity: wire formats, REST and WebSocket clients, recordings."""
