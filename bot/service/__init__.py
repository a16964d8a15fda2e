"""The live asyncio bot service: wiring, health and metrics, hot reload, lifecycle."""
