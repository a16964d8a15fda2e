-- TimescaleDB only: applied after the core migrations when pg_available_extensions lists
-- timescaledb. Plain PostgreSQL keeps the same tables, views and indexes without these.
CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('market_book_diffs', 'ts', chunk_time_interval => interval '1 day',
                         if_not_exists => true, migrate_data => true);
SELECT create_hypertable('market_trades', 'ts', chunk_time_interval => interval '1 day',
                         if_not_exists => true, migrate_data => true);
SELECT create_hypertable('latency_samples', 'ts', chunk_time_interval => interval '1 day',
                         if_not_exists => true, migrate_data => true);
SELECT create_hypertable('benchmark_prices', 'ts', chunk_time_interval => interval '7 days',
                         if_not_exists => true, migrate_data => true);
SELECT create_hypertable('position_snapshots', 'ts', chunk_time_interval => interval '7 days',
                         if_not_exists => true, migrate_data => true);

-- Market data is most of the volume: compress after a week, keep 90 days.
ALTER TABLE market_book_diffs SET (timescaledb.compress, timescaledb.compress_orderby = 'id');
ALTER TABLE market_trades SET (timescaledb.compress, timescaledb.compress_orderby = 'id');
SELECT add_compression_policy('market_book_diffs', interval '7 days', if_not_exists => true);
SELECT add_compression_policy('market_trades', interval '7 days', if_not_exists => true);
SELECT add_retention_policy('market_book_diffs', interval '90 days', if_not_exists => true);
SELECT add_retention_policy('market_trades', interval '90 days', if_not_exists => true);
SELECT add_retention_policy('latency_samples', interval '30 days', if_not_exists => true);
