-- Core schema: every table the bot, optimizer and drift monitor write.
-- Times are UTC timestamptz (microsecond precision); prices are integer JPY, amounts integer
-- satoshi, money numeric. Every append-only table has a client-generated idempotent key that
-- includes the time column (so it can become a TimescaleDB hypertable) and the writer inserts
-- with ON CONFLICT DO NOTHING: replaying a batch never doubles a row.

-- Market data ---------------------------------------------------------------------------------
-- `id` is the recorder's sequence number (receive time in µs * 1000 + n); ordering by it gives
-- back the exact order the events arrived in, across both tables.
CREATE TABLE IF NOT EXISTS market_book_diffs (
    id               bigint      NOT NULL,
    ts               timestamptz NOT NULL,          -- local receive time
    exchange_ts      timestamptz,                   -- exchange time when the message had one
    is_snapshot      boolean     NOT NULL DEFAULT false,  -- REST order_books (full book)
    bid_prices       bigint[]    NOT NULL,          -- JPY, in the order received
    bid_amounts_sat  bigint[]    NOT NULL,          -- satoshi; 0 removes the level
    ask_prices       bigint[]    NOT NULL,
    ask_amounts_sat  bigint[]    NOT NULL,
    PRIMARY KEY (id, ts)
);
CREATE INDEX IF NOT EXISTS market_book_diffs_ts_idx ON market_book_diffs (ts);

CREATE TABLE IF NOT EXISTS market_trades (
    id           bigint      NOT NULL,
    ts           timestamptz NOT NULL,
    exchange_ts  timestamptz,
    trade_id     bigint      NOT NULL,
    price        bigint      NOT NULL,
    amount_sat   bigint      NOT NULL,
    taker_side   smallint    NOT NULL CHECK (taker_side IN (1, -1)),  -- 1 buy, -1 sell
    PRIMARY KEY (id, ts)
);
CREATE INDEX IF NOT EXISTS market_trades_ts_idx ON market_trades (ts);

-- Benchmark mid price for the buy-and-hold comparison.
CREATE TABLE IF NOT EXISTS benchmark_prices (
    ts         timestamptz NOT NULL PRIMARY KEY,
    mid_price  numeric(20, 1) NOT NULL
);

-- Own trading -----------------------------------------------------------------------------------
-- One row per state change of one of our orders.
CREATE TABLE IF NOT EXISTS order_events (
    event_id         uuid        NOT NULL,
    ts               timestamptz NOT NULL,
    client_order_id  text        NOT NULL,
    exchange_order_id bigint,
    mode             text        NOT NULL CHECK (mode IN ('paper', 'live', 'backtest')),
    side             smallint    NOT NULL CHECK (side IN (1, -1)),
    price            bigint,                        -- NULL for market orders
    amount_sat       bigint      NOT NULL,
    filled_sat       bigint      NOT NULL DEFAULT 0,
    state            text        NOT NULL CHECK (state IN (
                         'new', 'open', 'partially_filled', 'filled', 'cancel_requested',
                         'cancelled', 'rejected', 'expired')),
    reason           text,
    params_version_id uuid,
    PRIMARY KEY (event_id, ts)
);
CREATE INDEX IF NOT EXISTS order_events_order_idx ON order_events (client_order_id, ts);
CREATE INDEX IF NOT EXISTS order_events_ts_idx ON order_events (ts);

CREATE TABLE IF NOT EXISTS own_fills (
    fill_id          bigint      NOT NULL,          -- exchange transaction id (paper: simulator's)
    ts               timestamptz NOT NULL,
    mode             text        NOT NULL CHECK (mode IN ('paper', 'live', 'backtest')),
    client_order_id  text,
    exchange_order_id bigint,
    side             smallint    NOT NULL CHECK (side IN (1, -1)),
    price            bigint      NOT NULL,
    amount_sat       bigint      NOT NULL CHECK (amount_sat > 0),
    fee_jpy          numeric(20, 8) NOT NULL DEFAULT 0,  -- negative = rebate
    liquidity        char(1)     CHECK (liquidity IN ('M', 'T')),
    PRIMARY KEY (fill_id, ts)
);
CREATE INDEX IF NOT EXISTS own_fills_ts_idx ON own_fills (ts);

CREATE TABLE IF NOT EXISTS position_snapshots (
    snapshot_id        uuid        NOT NULL,
    ts                 timestamptz NOT NULL,
    mode               text        NOT NULL CHECK (mode IN ('paper', 'live', 'backtest')),
    position_sat       bigint      NOT NULL,        -- signed: long > 0, short < 0
    avg_entry_price    numeric(20, 8),
    realized_pnl_jpy   numeric(20, 8) NOT NULL,     -- gross of fees, cumulative
    unrealized_pnl_jpy numeric(20, 8) NOT NULL,
    fees_jpy           numeric(20, 8) NOT NULL,     -- cumulative
    mid_price          numeric(20, 1),
    PRIMARY KEY (snapshot_id, ts)
);
CREATE INDEX IF NOT EXISTS position_snapshots_ts_idx ON position_snapshots (ts);

CREATE TABLE IF NOT EXISTS performance_reports (
    report_id         uuid        NOT NULL,
    ts                timestamptz NOT NULL,         -- end of the window
    window_hours      integer     NOT NULL CHECK (window_hours > 0),
    mode              text        NOT NULL,
    trades            integer     NOT NULL,         -- closed round trips
    win_rate          double precision,             -- ratios, not money
    profit_factor     double precision,
    sharpe            double precision,
    max_drawdown_jpy  numeric(20, 8) NOT NULL,
    pnl_jpy           numeric(20, 8) NOT NULL,      -- net of fees
    fees_jpy          numeric(20, 8) NOT NULL,
    PRIMARY KEY (report_id, ts)
);
CREATE INDEX IF NOT EXISTS performance_reports_window_idx
    ON performance_reports (window_hours, ts DESC);

CREATE TABLE IF NOT EXISTS latency_samples (
    sample_id  uuid        NOT NULL,
    ts         timestamptz NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('tick_to_order', 'order_round_trip', 'feed_lag')),
    value_us   bigint      NOT NULL,
    PRIMARY KEY (sample_id, ts)
);
CREATE INDEX IF NOT EXISTS latency_samples_kind_ts_idx ON latency_samples (kind, ts);

-- Parameters and optimization --------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS optimization_jobs (
    job_id        uuid        NOT NULL PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'done', 'failed')),
    requested_by  text        NOT NULL,             -- 'drift_monitor', 'make optimize', ...
    reason        text,
    payload       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    claimed_by    text,
    claimed_at    timestamptz,
    finished_at   timestamptz,
    error         text
);
-- Workers claim with: SELECT ... WHERE status = 'pending' ORDER BY created_at
--                     FOR UPDATE SKIP LOCKED LIMIT 1
CREATE INDEX IF NOT EXISTS optimization_jobs_pending_idx
    ON optimization_jobs (created_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS optimization_runs (
    run_id        uuid        NOT NULL PRIMARY KEY,
    job_id        uuid        REFERENCES optimization_jobs (job_id),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    status        text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    study_name    text,
    n_trials      integer,
    best_value    double precision,
    best_params   jsonb,
    is_metrics    jsonb,                            -- in-sample
    oos_metrics   jsonb,                            -- out-of-sample
    accepted      boolean,
    reason        text
);
CREATE INDEX IF NOT EXISTS optimization_runs_started_idx ON optimization_runs (started_at);

CREATE TABLE IF NOT EXISTS optimization_trials (
    run_id        uuid        NOT NULL REFERENCES optimization_runs (run_id),
    trial_number  integer     NOT NULL,
    ts            timestamptz NOT NULL,
    state         text        NOT NULL,             -- Optuna state: COMPLETE, PRUNED, FAIL
    value         double precision,
    params        jsonb       NOT NULL,
    metrics       jsonb,
    PRIMARY KEY (run_id, trial_number)
);

CREATE TABLE IF NOT EXISTS parameter_versions (
    version_id    uuid        NOT NULL,
    ts            timestamptz NOT NULL,             -- when the bot applied it
    source        text        NOT NULL CHECK (source IN ('optimizer', 'manual', 'rollback', 'template')),
    run_id        uuid,                             -- optimization run when source = optimizer
    checksum      text        NOT NULL,             -- sha256 of the YAML text
    params        jsonb       NOT NULL,
    PRIMARY KEY (version_id, ts)
);
CREATE INDEX IF NOT EXISTS parameter_versions_ts_idx ON parameter_versions (ts);

CREATE TABLE IF NOT EXISTS drift_events (
    event_id      uuid        NOT NULL,
    ts            timestamptz NOT NULL,
    detector      text        NOT NULL,
    severity      text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    metric        text        NOT NULL,
    value         double precision,
    threshold     double precision,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    job_id        uuid,                             -- optimization job it asked for, if any
    PRIMARY KEY (event_id, ts)
);
CREATE INDEX IF NOT EXISTS drift_events_ts_idx ON drift_events (ts);
