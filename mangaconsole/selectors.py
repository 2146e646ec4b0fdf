"""Health checks: each returns a dict with at least ``ok``."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from mangaconsole.celery import app
from mangaconsole.models import WorkerHeartbeat


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = check() or {}
        result.setdefault("ok", True)
    except Exception as exc:  # a health check reports failures, it does not raise them
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict:
    key = "healthz:probe"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        return {"ok": False, "error": "value written to the cache could not be read back"}
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _broker() -> dict:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": conn.transport.driver_type}


def _redis() -> dict:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        return {"version": client.info("server").get("redis_version")}
    finally:
        client.close()


def _heartbeat() -> dict:
    last = WorkerHeartbeat.objects.order_by("-beat_at").first()
    if last is None:
        return {"ok": False, "error": "no worker has ever reported a heartbeat", "age_s": None}
    age = (timezone.now() - last.beat_at).total_seconds()
    max_age = settings.HEALTH_HEARTBEAT_MAX_AGE_S
    result = {"age_s": round(age, 1), "worker": last.worker, "max_age_s": max_age, "ok": age <= max_age}
    if not result["ok"]:
        result["error"] = f"last heartbeat is {age:.0f} s old (limit {max_age} s)"
    return result


def health_report() -> dict:
    checks = {"database": _timed(_database), "cache": _timed(_cache)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_redis)
    checks["broker"] = _timed(_broker)
    checks["worker_heartbeat"] = _timed(_heartbeat)
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
