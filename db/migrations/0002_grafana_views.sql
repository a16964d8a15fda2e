-- Views the Grafana dashboards query. Plain SQL so they work with or without TimescaleDB.

-- PnL curve and drawdown from position snapshots: net PnL = realized + unrealized - fees.
CREATE OR REPLACE VIEW v_pnl_curve AS
SELECT ts,
       mode,
       position_sat,
       realized_pnl_jpy,
       unrealized_pnl_jpy,
       fees_jpy,
       realized_pnl_jpy + unrealized_pnl_jpy - fees_jpy AS net_pnl_jpy,
       (realized_pnl_jpy + unrealized_pnl_jpy - fees_jpy)
         - max(realized_pnl_jpy + unrealized_pnl_jpy - fees_jpy)
             OVER (PARTITION BY mode ORDER BY ts ROWS UNBOUNDED PRECEDING) AS drawdown_jpy
FROM position_snapshots;

-- Latest performance report per window: win rate, profit factor, Sharpe, drawdown.
CREATE OR REPLACE VIEW v_performance_latest AS
SELECT DISTINCT ON (mode, window_hours)
       ts, mode, window_hours, trades, win_rate, profit_factor, sharpe,
       max_drawdown_jpy, pnl_jpy, fees_jpy
FROM performance_reports
ORDER BY mode, window_hours, ts DESC;

-- Strategy net PnL next to what holding the traded BTC would have made, per minute.
-- Buy-and-hold: 1 BTC bought at the first benchmark mid, marked at each minute's last mid.
CREATE OR REPLACE VIEW v_pnl_vs_buy_and_hold AS
WITH bench AS (
    SELECT date_trunc('minute', ts) AS minute,
           (array_agg(mid_price ORDER BY ts DESC))[1] AS mid_price
    FROM benchmark_prices GROUP BY 1
), first_mid AS (
    SELECT mid_price FROM benchmark_prices ORDER BY ts LIMIT 1
), strat AS (
    SELECT date_trunc('minute', ts) AS minute, mode,
           (array_agg(realized_pnl_jpy + unrealized_pnl_jpy - fees_jpy ORDER BY ts DESC))[1]
               AS net_pnl_jpy
    FROM position_snapshots GROUP BY 1, 2
)
SELECT b.minute AS ts,
       s.mode,
       s.net_pnl_jpy,
       b.mid_price,
       b.mid_price - f.mid_price AS buy_and_hold_pnl_jpy_per_btc,
       (b.mid_price / f.mid_price - 1) AS buy_and_hold_return
FROM bench b
CROSS JOIN first_mid f
LEFT JOIN strat s ON s.minute = b.minute;

-- Latency percentiles per minute and kind, in milliseconds.
CREATE OR REPLACE VIEW v_latency_percentiles AS
SELECT date_trunc('minute', ts) AS ts,
       kind,
       count(*) AS samples,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY value_us) / 1000.0 AS p50_ms,
       percentile_cont(0.9)  WITHIN GROUP (ORDER BY value_us) / 1000.0 AS p90_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY value_us) / 1000.0 AS p99_ms,
       max(value_us) / 1000.0 AS max_ms
FROM latency_samples
GROUP BY 1, 2;

-- Latest state of every order (order_events keeps every change).
CREATE OR REPLACE VIEW v_orders_latest AS
SELECT DISTINCT ON (client_order_id)
       client_order_id, exchange_order_id, mode, side, price, amount_sat, filled_sat, state,
       reason, ts AS updated_at
FROM order_events
ORDER BY client_order_id, ts DESC;

-- Optimizer history: each run with the job that asked for it and the parameters it produced.
CREATE OR REPLACE VIEW v_optimizer_history AS
SELECT r.run_id,
       r.started_at,
       r.finished_at,
       r.status,
       r.n_trials,
       r.best_value,
       r.accepted,
       r.reason,
       r.is_metrics,
       r.oos_metrics,
       j.job_id,
       j.requested_by,
       j.reason AS job_reason,
       (SELECT min(p.ts) FROM parameter_versions p WHERE p.run_id = r.run_id) AS applied_at
FROM optimization_runs r
LEFT JOIN optimization_jobs j ON j.job_id = r.job_id;

-- Parameter versions in order, with when each stopped being the active one.
CREATE OR REPLACE VIEW v_parameter_timeline AS
SELECT version_id, ts AS applied_at,
       lead(ts) OVER (ORDER BY ts) AS replaced_at,
       source, run_id, checksum
FROM parameter_versions;
