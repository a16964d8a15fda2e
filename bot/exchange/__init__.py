"""Coincheck connectivity: wire formats, REST and WebSocket clients, recordings.

- `wire`: parse/encode the public protocol; `recording`: the native replay format.
- `rest.CoincheckRest`: async REST client (httpx), signing via `auth`, typed `errors`, `models`.
- `feed.CoincheckFeed`: public WebSocket feed with a book rebuilt from REST on every connect.
"""
