"""`/health` (JSON, 200 or 503 with the reason) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]


class StatusServer:
    def __init__(
        self, host: str, port: int, health: HealthFn, metrics: Callable[[], bytes]
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._get_health)
        app.router.add_get("/metrics", self._get_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        if server is not None and server.sockets:  # type: ignore[union-attr]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get_health(self, _request: web.Request) -> web.Response:
        healthy, body = self._health()
        return web.Response(
            text=json.dumps(body, default=str),
            status=200 if healthy else 503,
            content_type="application/json",
        )

    async def _get_metrics(self, _request: web.Request) -> web.Response:
        resp = web.Response(body=self._metrics())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp
