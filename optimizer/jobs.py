"""Job intake: what an optimization request may ask for, validated before any work starts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class JobRequestError(ValueError):
    """A job payload that cannot be run; the message names the field."""


class JobRequest(BaseModel):
    """The `payload` of an optimization_jobs row (all optional: config defaults apply)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: Annotated[float, Field(gt=0, le=24 * 90)] | None = None
    """Recent market data from the database, this many hours back from the newest row."""
    data: str | None = None
    """A market data file instead of the database (path as the worker sees it)."""
    trials: Annotated[int, Field(ge=1, le=100_000)] | None = None
    workers: Annotated[int, Field(ge=1, le=64)] | None = None
    # Why the job was asked for (the drift monitor's verdict); kept for the record.
    severity: str | None = None
    reason: str | None = None
    triggers: tuple[str, ...] = ()
    requested_by: str | None = None
    requested_at: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> JobRequest:
        if self.hours is not None and self.data is not None:
            raise ValueError("give hours or data, not both")
        return self


def parse_job_request(payload: dict[str, Any]) -> JobRequest:
    try:
        return JobRequest.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "payload"
        raise JobRequestError(f"job payload {key}: {first['msg']}") from None
