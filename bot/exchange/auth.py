"""Coincheck private-API authentication: HMAC-SHA256 signatures and a never-reused nonce."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from pathlib import Path


def signature(secret: str, nonce: int | str, full_url: str, body: str) -> str:
    """Lowercase hex HMAC-SHA256 of `nonce + full_url + body`, keyed by the API secret."""
    message = f"{nonce}{full_url}{body}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Credentials:
    """An API key and secret; neither ever appears in a repr or str."""

    __slots__ = ("_key", "_secret")

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret must both be non-empty")
        self._key = api_key
        self._secret = api_secret

    def headers(self, nonce: int, full_url: str, body: str) -> dict[str, str]:
        return {
            "ACCESS-KEY": self._key,
            "ACCESS-NONCE": str(nonce),
            "ACCESS-SIGNATURE": signature(self._secret, nonce, full_url, body),
        }

    def __repr__(self) -> str:
        return "Credentials(api_key='***', api_secret='***')"

    __str__ = __repr__


NONCE_RESERVE_US = 60_000_000
"""How far ahead of the issued nonces the persisted high-water mark runs (one write per minute)."""


class NonceSource:
    """Strictly increasing nonces, persisted so a restart never reuses one.

    The nonce is the larger of the clock in microseconds and last+1. Before a nonce is used,
    `path` holds a mark at least as high (written atomically: temp file + rename); the mark is
    reserved a minute ahead, so the file is written about once a minute instead of on every
    private request (that write sat on the order path). A restart continues above the mark.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._last = 0
        if self._path is not None and self._path.exists():
            text = self._path.read_text(encoding="ascii").strip()
            self._last = int(text) if text else 0
        self._reserved = self._last

    @property
    def last(self) -> int:
        return self._last

    def next(self) -> int:
        with self._lock:
            nonce = max(time.time_ns() // 1000, self._last + 1)
            self._last = nonce
            if self._path is not None and nonce > self._reserved:
                self._reserved = nonce + NONCE_RESERVE_US
                self._persist(self._reserved)
            return nonce

    def _persist(self, nonce: int) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(str(nonce), encoding="ascii")
        os.replace(tmp, self._path)
