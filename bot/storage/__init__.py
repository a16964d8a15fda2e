"""Database: connection (embedded or DATABASE_URL), migrations, batched writer, queries.

- `connection`: resolve the URL (DATABASE_URL, else the embedded server), connect, mask passwords.
- `embedded`: the project's own PostgreSQL (pgserver) under database.embedded_data_dir.
- `migrations`: apply db/migrations/*.sql (+ timescale/ when available), `migration_status`.
- `rows`: typed rows for the append-only tables; market events <-> rows.
- `writer`: `DatabaseWriter.write(row)` — batched COPY, idempotent, spills when the DB is away.
- `spill`: the writer's append-only spill file.
- `queries`: reads (market events, fills) and the optimization job queue.
- `reports`: performance reports from own fills; `export`: stored market data -> recording.
"""
