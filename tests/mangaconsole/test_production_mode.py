"""Production mode (S10, S26): one variable, set by docker-compose.yml, refuses the laptop secret key
and a wildcard host list at start-up, and makes `check --deploy` clean; the CSP header is on every page."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
GOOD_KEY = secrets.token_urlsafe(50)


def _manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY")}
    return subprocess.run(  # noqa: S603 (this project's manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**base, "MANGACONSOLE_VAR_DIR": str(settings.VAR_DIR / "prod-check"), **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "django-insecure-mangaconsole-local-only-change-me"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_production_mode_refuses_to_start_on_laptop_values_and_names_the_variable(env, named):
    result = _manage("check", MANGACONSOLE_PRODUCTION="1", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


def test_the_compose_production_variables_pass_check_deploy_with_no_warning():
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / ".ci" / "check_deploy.py")],
        env={**os.environ, "DJANGO_SECRET_KEY": GOOD_KEY},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "MANGACONSOLE_PRODUCTION" in result.stdout


def test_the_deploy_check_fails_on_a_stack_without_production_mode(tmp_path):
    compose = (
        (ROOT / "docker-compose.yml")
        .read_text()
        .replace('MANGACONSOLE_PRODUCTION: "1"', 'MANGACONSOLE_PRODUCTION: "0"')
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(compose)
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / ".ci" / "check_deploy.py"), "--compose", str(path)],
        env={**os.environ, "DJANGO_SECRET_KEY": GOOD_KEY},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 1
    assert "security.W004" in result.stdout  # no HSTS
    assert "security.W008" in result.stdout  # no HTTPS redirect


def test_every_page_carries_the_content_security_policy(client, db):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
