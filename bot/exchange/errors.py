"""Typed exchange errors: what went wrong at the edge, so callers can decide what to retry."""

from __future__ import annotations


class ExchangeError(Exception):
    """Any failure talking to the exchange. `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(ExchangeError):
    """Bad key, wrong signature or a nonce that did not increase (HTTP 401)."""


class RateLimitError(ExchangeError):
    """HTTP 429: the request was refused unprocessed; safe to retry after a pause."""


class InsufficientFundsError(ExchangeError):
    """The account cannot cover the order (spot only: no margin, no short selling)."""


class InvalidOrderError(ExchangeError):
    """The exchange refused the order or the request as malformed (HTTP 4xx)."""


class OrderNotFoundError(InvalidOrderError):
    """No such open order (already filled, cancelled, or never existed)."""


class ServerError(ExchangeError):
    """HTTP 5xx: the exchange failed; whether a write took effect is unknown."""


class ExchangeTimeout(ExchangeError):
    """No reply in time (or the connection broke mid-request); a write may have taken effect."""


def classify(status: int, message: str) -> ExchangeError:
    """Map an HTTP status and Coincheck's `error` text to a typed error."""
    text = message.lower()
    if status == 401 or "authentication" in text or "nonce" in text or "api key" in text:
        return AuthError(message, status)
    if status == 429:
        return RateLimitError(message, status)
    if status >= 500:
        return ServerError(message, status)
    if "insufficient" in text or "balance" in text:
        return InsufficientFundsError(message, status)
    if status == 404 or "not found" in text:
        return OrderNotFoundError(message, status)
    return InvalidOrderError(message, status)
