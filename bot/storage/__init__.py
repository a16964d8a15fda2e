"""Database: connection (embedded or DATABASE_URL), migrations, batched writer, queries."""
