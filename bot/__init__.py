"""obi-scalp-bot: order-book-imbalance scalping for Coincheck BTC/JPY."""
