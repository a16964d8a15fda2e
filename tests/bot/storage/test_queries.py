"""The optimization job queue: two workers never get the same job."""

from __future__ import annotations

import asyncpg

from bot.storage.queries import claim_job, enqueue_job, finish_job


async def test_concurrent_workers_claim_different_jobs(migrated_db_url: str) -> None:
    a = await asyncpg.connect(migrated_db_url)
    b = await asyncpg.connect(migrated_db_url)
    try:
        first = await enqueue_job(a, "drift_monitor", "pnl drop", {"hours": 24})
        second = await enqueue_job(a, "make optimize")
        # Worker A holds its claim open in a transaction; B must skip that locked row.
        tx = a.transaction()
        await tx.start()
        job_a = await claim_job(a, "worker-a")
        job_b = await claim_job(b, "worker-b")
        await tx.commit()
        assert job_a is not None and job_b is not None
        assert (job_a.job_id, job_b.job_id) == (first, second)
        assert job_a.payload == {"hours": 24}
        assert await claim_job(b, "worker-b") is None
        await finish_job(a, first)
        await finish_job(b, second, error="no data")
        rows = await a.fetch("SELECT status FROM optimization_jobs ORDER BY created_at")
        assert [r["status"] for r in rows] == ["done", "failed"]
    finally:
        await a.close()
        await b.close()
