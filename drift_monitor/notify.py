"""Webhook notifications (Slack- and Discord-compatible): drift, new parameters, drawdown halt.

One JSON body carries the message twice, as `text` (Slack) and `content` (Discord), so the
same URL setting works for either. A notification is a courtesy: a failure is logged in one
line and the monitor carries on.
"""

from __future__ import annotations

import logging

import httpx

from bot.storage.drift_store import AppliedParams
from bot.storage.rows import utc_from_us

_log = logging.getLogger(__name__)
PREFIX = "obi-scalp-bot"
_DISCORD_LIMIT = 2000


class Notifier:
    """Posts messages to one webhook URL; without a URL every send is a no-op."""

    def __init__(self, webhook_url: str | None, timeout_seconds: float = 5.0) -> None:
        self.webhook_url = webhook_url or None
        self.timeout_seconds = timeout_seconds

    @property
    def enabled(self) -> bool:
        return self.webhook_url is not None

    async def send(self, text: str) -> bool:
        """Post `text`; True when the webhook accepted it. Never raises."""
        if self.webhook_url is None:
            return False
        text = text[:_DISCORD_LIMIT]
        try:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                response = await client.post(self.webhook_url, json={"text": text, "content": text})
            if response.status_code >= 300:
                _log.warning(
                    "webhook refused the notification: HTTP %s %s",
                    response.status_code,
                    response.text[:200].strip(),
                )
                return False
            return True
        except httpx.HTTPError as exc:
            _log.warning("webhook notification failed: %s: %s", type(exc).__name__, exc)
            return False


def drift_message(severity: str, reason: str, job_text: str) -> str:
    return f"{PREFIX}: drift {severity.upper()}: {reason}. {job_text}"


def params_applied_message(applied: AppliedParams) -> str:
    run = f", optimizer run {applied.run_id}" if applied.run_id else ""
    when = utc_from_us(applied.ts_us).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{PREFIX}: new parameters applied at {when} "
        f"(source {applied.source}{run}, checksum {applied.checksum[:12]})"
    )


def drawdown_halt_message(drawdown_jpy: float, limit_jpy: float, hours: float) -> str:
    return (
        f"{PREFIX}: drawdown halt: net PnL is {drawdown_jpy:,.0f} JPY below its peak of the "
        f"last {hours:g} h (limit {limit_jpy:,.0f} JPY)"
    )
