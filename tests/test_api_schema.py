"""Every API is described by the OpenAPI 3 schema served at /api/schema/ (drf-spectacular), and
schemathesis, fuzzing every operation of that schema over HTTP with a real token, finds no 5xx.
Bad bodies the APIs used to read by hand (a JSON list where an object belongs) get a 400."""

import json
import re
import subprocess
import sys

import pytest
from rest_framework.authtoken.models import Token

from mangaconsole.roles import Role
from tests.factories import make_user


@pytest.fixture
def token(db):
    return Token.objects.create(user=make_user("api-root", Role.ADMIN, is_superuser=True)).key


def test_the_schema_needs_a_login_and_describes_every_api(client, token):
    assert client.get("/api/schema/").status_code == 401
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert set(paths) == {
        "/api/audit/entries/",
        "/api/audit/verify/",
        "/api/eval/runs/",
        "/api/eval/runs/{id}/",
        "/api/events/",
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/eval/runs/", [{"release": "production"}]), ("/api/eval/runs/", "text"), ("/api/events/", [[]])],
)
def test_a_body_of_the_wrong_shape_is_a_400_not_a_500(client, token, path, body):
    response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400, response.content


@pytest.mark.db_agnostic
def test_schemathesis_finds_no_server_error_in_any_operation(live_server, transactional_db, monkeypatch, capsys):
    from rest_framework.throttling import UserRateThrottle

    from evaluation.services import dataset_default, dataset_version_create
    from evaluation.tasks import eval_run_task
    from mangaconsole.access import TokenAttemptThrottle
    from registry.models import ComponentKind
    from registry.services import alias_move, component_version_register, release_create

    key = Token.objects.create(user=make_user("api-fuzz", Role.ADMIN, is_superuser=True)).key
    # something to evaluate and look up, so valid requests reach the services (201, 200), not only 400s
    version = component_version_register(kind=ComponentKind.GENERATOR, actor="t", framework="local")
    alias_move(alias="production", release=release_create(actor="t", versions=[version]), actor="t", bootstrap=True)
    row = {"key": "faq-1", "category": "faq", "query": "do you ship to Canada?", "reference": "Yes."}
    dataset_version_create(dataset=dataset_default(), rows=[row], actor="t")
    # the live server runs in this process: its accepted runs are not queued, and the fuzzer is not throttled
    monkeypatch.setattr(eval_run_task, "delay", lambda *args, **kwargs: None)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "100000/min"})
    monkeypatch.setattr(TokenAttemptThrottle, "THROTTLE_RATES", {"token_attempt": "100000/min"})
    result = subprocess.run(  # noqa: S603 (the schemathesis CLI of this virtualenv)
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{live_server.url}/api/schema/?format=json",
            "--header",
            f"Authorization: Token {key}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "20",
            "--workers",
            "1",
            "--seed",
            "15",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout + result.stderr
    with capsys.disabled():
        print("\n".join(out.strip().splitlines()[-14:]))
    assert result.returncode == 0, out[-4000:]
    assert re.search(r"5 selected|5 operations|Operations:\s+5", out), out[-2000:]
