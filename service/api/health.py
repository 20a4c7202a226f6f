"""Tag `health`: is the server and what it depends on working."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from generated.rest.models import HealthStatus
from service.api.deps import ApiContext, ApiDep
from service.db.engine import check_database
from service.db.migrate import engine_schema_problem

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["health"])

PROBE_TIMEOUT_SECONDS = 2.0


@router.get("/health", operation_id="get_health", response_model=HealthStatus)
async def get_health(context: ApiDep) -> JSONResponse:
    """200 when the database (and a configured Redis) answer, else 503 naming the part."""
    database = "ok" if await _database_ok(context) else "unavailable"
    detail = await _schema_problem(context) if database == "ok" else None
    if detail is not None:
        database = "unavailable"
    redis = await _redis_state(context)
    healthy = database == "ok" and redis != "unavailable"
    status = HealthStatus(
        status="ok" if healthy else "unavailable", database=database, redis=redis, detail=detail
    )
    return JSONResponse(status.model_dump(exclude_none=True), status_code=200 if healthy else 503)


async def _database_ok(context: ApiContext) -> bool:
    """Whether a `SELECT 1` answers in time."""
    if context.engine is None:
        return False
    return await check_database(context.engine, timeout_seconds=PROBE_TIMEOUT_SECONDS)


async def _schema_problem(context: ApiContext) -> str | None:
    """What is wrong with the database schema (not at this server's revision), if anything."""
    if context.engine is None:
        return None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            return await engine_schema_problem(context.engine)
    except Exception:
        logger.warning("database schema check failed", exc_info=True)
        return "the database schema could not be read"


async def _redis_state(context: ApiContext) -> str:
    """`disabled` without Redis, else whether PING answers in time."""
    if context.redis is None:
        return "disabled"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await context.redis.ping()
    except Exception:
        logger.warning("redis health check failed", exc_info=True)
        return "unavailable"
    return "ok"
