"""/healthz: database, cache, broker and the age of the last worker heartbeat."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mangaconsole.models import WorkerHeartbeat
from mangaconsole.roles import Role
from tests.factories import make_user


@pytest.fixture
def client(client, db):
    """/healthz shows its checks to a signed-in on-call engineer (see the public tests below)."""
    client.force_login(make_user("oncall-health", Role.ONCALL_ENGINEER))
    return client


def test_it_is_503_when_no_worker_ever_reported(db, client):
    WorkerHeartbeat.objects.all().delete()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["cache"]["ok"]
    assert body["checks"]["broker"]["ok"]
    assert body["checks"]["worker_heartbeat"] == {**body["checks"]["worker_heartbeat"], "ok": False, "age_s": None}


def test_it_is_503_when_the_heartbeat_is_stale(db, client, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE_S = 60
    WorkerHeartbeat.objects.create(worker="w1", beat_at=timezone.now() - timedelta(minutes=5))
    body = client.get("/healthz").json()
    assert body["ok"] is False
    assert "old" in body["checks"]["worker_heartbeat"]["error"]


def test_it_is_503_when_the_broker_is_unreachable(db, client, settings):
    from mangaconsole.celery import app

    WorkerHeartbeat.objects.create(worker="w1", beat_at=timezone.now())
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_a_real_worker_running_the_heartbeat_task_makes_it_healthy(transactional_db, client):
    from celery.contrib.testing.worker import start_worker

    from mangaconsole.celery import app
    from mangaconsole.tasks import worker_heartbeat

    WorkerHeartbeat.objects.all().delete()
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=10):
        worker_heartbeat.delay()
        deadline = time.monotonic() + 30
        while not WorkerHeartbeat.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    beat = WorkerHeartbeat.objects.get()
    assert (timezone.now() - beat.beat_at).total_seconds() < 60
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker_heartbeat"]["worker"] == beat.worker


def test_the_heartbeat_is_scheduled_in_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == "mangaconsole.tasks.worker_heartbeat"
    assert entry["options"]["expires"] < entry["schedule"].total_seconds()


def test_redis_is_checked_when_configured(db, client, settings):
    import os

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    settings.REDIS_URL = url
    assert client.get("/healthz").json()["checks"]["redis"]["ok"] is True
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_anonymous_and_other_roles_get_the_status_alone(db, settings):
    from django.test import Client

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # a failing check whose error text must not leak
    WorkerHeartbeat.objects.create(worker="celery@secret-host-7", beat_at=timezone.now())
    for user in (None, make_user("pm-health", Role.PRODUCT_MANAGER)):
        visitor = Client()
        if user is not None:
            visitor.force_login(user)
        response = visitor.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"ok": False, "status": "unavailable"}
        assert b"secret-host" not in response.content
        assert b"Error" not in response.content
