import pytest
from django.core.exceptions import ImproperlyConfigured

from mangaconsole.env import env


def test_missing_required_value_names_the_variable(monkeypatch):
    monkeypatch.delenv("MC_TEST_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="MC_TEST_REQUIRED"):
        env("MC_TEST_REQUIRED")


def test_defaults_apply_only_when_unset(monkeypatch):
    monkeypatch.delenv("MC_TEST_X", raising=False)
    assert env("MC_TEST_X", 5, cast=int) == 5
    monkeypatch.setenv("MC_TEST_X", "7")
    assert env("MC_TEST_X", 5, cast=int) == 7


@pytest.mark.parametrize(("raw", "cast"), [("seven", int), ("maybe", bool), ("1.2.3", float)])
def test_a_bad_value_fails_clearly_instead_of_falling_back(monkeypatch, raw, cast):
    monkeypatch.setenv("MC_TEST_BAD", raw)
    with pytest.raises(ImproperlyConfigured, match=f"MC_TEST_BAD='{raw}' is not a valid {cast.__name__}"):
        env("MC_TEST_BAD", cast(0) if cast is not bool else False, cast=cast)


def test_bools_and_lists(monkeypatch):
    monkeypatch.setenv("MC_TEST_B", "Yes")
    monkeypatch.setenv("MC_TEST_L", "a, b,,c")
    assert env("MC_TEST_B", False, cast=bool) is True
    assert env("MC_TEST_L", [], cast=list) == ["a", "b", "c"]


def test_settings_switch_to_postgres_and_redis_from_the_environment():
    import os
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='mangaconsole.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    embedded = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True)
    assert embedded.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.cache.backends.locmem.LocMemCache",
        "channels.layers.InMemoryChannelLayer",
    ]
    servers = {**base, "DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://cache:6379/1"}
    switched = subprocess.run([sys.executable, "-c", code], env=servers, capture_output=True, text=True, check=True)
    assert switched.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://cache:6379/1",
        "django.core.cache.backends.redis.RedisCache",
        "channels_redis.core.RedisChannelLayer",
    ]
    broken = subprocess.run(
        [sys.executable, "-c", code], env={**base, "DATABASE_URL": "nosuchdb://x"}, capture_output=True, text=True
    )
    assert broken.returncode != 0
    assert "DATABASE_URL" in broken.stderr
