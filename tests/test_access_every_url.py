"""Walk every URL pattern in the project: anonymous visitors are refused everywhere but the public
pages, every console view declares what it needs, and a role without that gets 403.

The list of URLs is built from the resolver at test time, so a new page or API is covered the day
it is added; a pattern this file cannot build a sample URL for fails the test instead of being
skipped.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from mangaconsole.roles import Role

# Open to anonymous visitors on purpose.
PUBLIC = {"login", "logout", "healthz", "favicon", "admin:login", "admin:logout"}

# Admin pages whose answer to a logged-in user with no permission is not 403, and why.
ADMIN_NOT_403 = {
    "admin:index": "lists only the apps the user may see: empty for a user with no permission",
    "admin:app_list": "Django answers 404 so an app's existence is not revealed",
    "admin:password_change": "changing one's own password needs no permission",
    "admin:password_change_done": "changing one's own password needs no permission",
    "admin:view_on_site": "a redirect to the object's public page; 404 for an unknown object",
    "admin:<catch-all>": "unknown admin pages answer 404",
    "admin:jsi18n": "the admin's translation catalogue, no data",
}

_ROUTE_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
# object_id is filled in at run time with a real row of the page's model (see _object_path).
_SAMPLES = {
    "fmt": "csv",
    "object_id": "{object_id}",
    "content_type_id": "1",
    "id": "{object_id}",
    "trace_id": "{trace_id}",
}


def _sample_route(route: str) -> str:
    def sub(match: re.Match) -> str:
        name, conv = match["name"], match["conv"] or "str"
        if name in _SAMPLES:
            return _SAMPLES[name]
        if conv == "int":
            return "1"
        if conv == "uuid":
            return "00000000-0000-0000-0000-000000000001"
        return "sample"

    return _ROUTE_PARAM.sub(sub, route)


def _sample_regex(regex: str) -> str:
    path = regex.lstrip("^").rstrip("$")
    path = re.sub(r"\(\?P<app_label>([\w|]+)\)", lambda m: m.group(1).split("|")[0], path)
    path = re.sub(r"\(\?P<url>\.\*\)", "no-such-page/", path)
    if re.search(r"[()\[\]*+?\\|^$]", path):
        raise AssertionError(f"no sample URL for regex pattern {regex!r}: teach _sample_regex about it")
    return path


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for p in patterns:
        route = str(p.pattern)
        is_regex = type(p.pattern).__name__ == "RegexPattern"
        sample = _sample_regex(route) if is_regex else _sample_route(route)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + sample, p.namespace or namespace)
            continue
        assert isinstance(p, URLPattern)
        path = "/" + prefix + sample
        name = p.name or ("<catch-all>" if is_regex else f"<{prefix}{route}>")
        yield (f"{namespace}:{name}" if namespace else name), path, p.callback


ALL_URLS = list(_walk(get_resolver().url_patterns))
ADMIN_URLS = [u for u in ALL_URLS if u[0].startswith("admin:")]
CONSOLE_URLS = [u for u in ALL_URLS if not u[0].startswith("admin:")]


def _requirement(callback) -> dict:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    source = view_class if view_class is not None and hasattr(view_class, "required_permission") else callback
    return {
        "permission": getattr(source, "required_permission", None),
        "role": getattr(source, "required_role", None),
        "public": getattr(callback, "public", False),
        "any_user": getattr(callback, "any_logged_in_user", False),
        "api": view_class is not None and hasattr(view_class, "required_permission"),
    }


def _model_for(path: str):
    from django.contrib import admin

    for model in admin.site._registry:
        if path.startswith(f"/admin/{model._meta.app_label}/{model._meta.model_name}/"):
            return model
    return None


@pytest.fixture
def admin_samples(personas):
    """One row of every model registered in the admin, so object pages are checked on a real row."""
    from django.utils import timezone
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from rest_framework.authtoken.models import Token

    from audit.models import AuditEntry
    from chat.models import Article, Product
    from mangaconsole.models import WorkerHeartbeat

    Token.objects.create(user=personas["nobody"])
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="sample", task="mangaconsole.tasks.worker_heartbeat", interval=interval)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    CrontabSchedule.objects.create(minute="0")
    SolarSchedule.objects.create(event="sunrise", latitude=35.68, longitude=139.69)
    WorkerHeartbeat.objects.create(worker="sample", beat_at=timezone.now())
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    seen = {"user_agent": "t", "ip_address": "127.0.0.1", "username": "x", "http_accept": "*/*", "path_info": "/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen)
    Product.objects.create(
        asin="B000000001",
        title="t",
        series="s",
        author="a",
        format="paperback",
        price=1,
        stock=1,
        release_date="2026-01-01",
    )
    Article.objects.create(kind="faq", slug="sample", title="t", body="b", source_path="x", checksum="0")
    _registry_and_chat_samples()
    assert AuditEntry.objects.exists()


def _registry_and_chat_samples() -> None:
    import uuid

    from django.utils import timezone

    from chat.models import ChatSession, Feedback, IngestRun, KnowledgeChunk, KnowledgeDocument, Trace
    from finops.models import ModelPrice
    from registry.models import AliasName, ComponentKind
    from registry.services import alias_move, component_version_register, release_create

    now = timezone.now()
    version = component_version_register(kind=ComponentKind.GENERATOR, actor="system:test", framework="local")
    release = release_create(actor="system:test", versions=[version])
    alias_move(alias=AliasName.STAGING, release=release, actor="system:test")
    from registry.models import Canary, Deployment, DeploymentStage, MonitorEvent

    deployment = Deployment.objects.create(release=release, requested_by="system:test", requested_at=timezone.now())
    DeploymentStage.objects.create(deployment=deployment, name="build", order=0)
    Canary.objects.create(release=release, baseline=release, started_by="system:test", started_at=timezone.now())
    MonitorEvent.objects.create(kind="guard_page", release=release, at=timezone.now(), summary="s", evidence={})
    from experiments.models import Event, Experiment, Exposure, Variant

    experiment = Experiment.objects.create(name="sample", hypothesis="h", created_by="system:test")
    variant = Variant.objects.create(
        experiment=experiment, key="control", name="c", release=release, weight=100, is_control=True
    )
    Exposure.objects.create(experiment=experiment, variant=variant, unit_id=uuid.uuid4(), at=timezone.now())
    Event.objects.create(event_id="sample", session_id=uuid.uuid4(), kind="conversion", at=timezone.now())
    doc = KnowledgeDocument.objects.create(
        key="faq:x", source="faq", path="x", title="t", checksum="0", embedder_version="embedder:v1", updated_at=now
    )
    KnowledgeChunk.objects.create(
        document=doc,
        ordinal=0,
        source="faq",
        title="t",
        text="x",
        embedding=b"",
        embedder_version="embedder:v1",
        created_at=now,
    )
    IngestRun.objects.create(started_at=now, chunk_size=100, chunk_overlap=10, embedder_version="embedder:v1")
    session = ChatSession.objects.create(session_id=uuid.uuid4(), created_at=now, last_seen_at=now, token_budget=10)
    trace = Trace.objects.create(trace_id=uuid.uuid4(), session_id=session.session_id, user_text="hi", started_at=now)
    Feedback.objects.create(
        session_id=session.session_id, message_id=uuid.uuid4(), trace_id=trace.trace_id, value="up", created_at=now
    )
    ModelPrice.objects.create(model_id="m", input_per_1k=0, output_per_1k=0)
    from guardrails.models import GuardrailEvent

    GuardrailEvent.objects.create(
        trace_id=trace.trace_id, stage="pre", check_name="injection_rules", verdict="block", created_at=now
    )
    from evaluation.models import EvalRun
    from evaluation.services import dataset_default, dataset_version_create
    from prompts_app.services import prompts_seed

    prompts_seed(actor="system:test")
    row = {"key": "faq-1", "category": "faq", "query": "q", "reference": "r"}
    version = dataset_version_create(dataset=dataset_default(), rows=[row], actor="system:test")
    EvalRun.objects.create(dataset_version=version, release=release, triggered_by="t")
    from evaluation.models import Annotation, AnnotationBatch, AnnotationItem, AnnotationTask, TrainingCandidate

    batch = AnnotationBatch.objects.create(
        name="sample", source="weekly", period_start=now, period_end=now, requested=1, overlap_share=0, created_by="t"
    )
    item = AnnotationItem.objects.create(batch=batch, trace=trace, position=1, intent="faq")
    task = AnnotationTask.objects.create(batch=batch, item=item, done_at=now)
    from django.contrib.auth import get_user_model

    Annotation.objects.create(
        task=task,
        item=item,
        annotator=get_user_model().objects.first(),
        factual=3,
        helpful=3,
        tone=3,
        format=3,
        purchase=False,
        created_at=now,
    )
    TrainingCandidate.objects.create(item=item, trace_id=trace.trace_id, answer="a", created_by="t")


def _object_path(name: str, path: str) -> str:
    if "{trace_id}" in path:
        from chat.models import Trace

        trace = Trace.objects.first()
        assert trace is not None, "add a sample Trace to the admin_samples fixture"
        return path.replace("{trace_id}", str(trace.trace_id))
    if "{object_id}" not in path:
        return path
    if name == "admin:view_on_site":  # content type 1, object 1: a redirect or a 404, never data
        return path.replace("{object_id}", "1")
    model = _model_for(path)
    assert model is not None, f"{name}: cannot tell which model {path} shows"
    obj = model._default_manager.first()
    assert obj is not None, f"{name}: add a sample {model.__name__} to the admin_samples fixture"
    return path.replace("{object_id}", str(obj.pk))


def test_the_walk_finds_the_console_pages():
    names = {name for name, _, _ in ALL_URLS}
    assert {"home", "healthz", "audit:export", "audit:export_download", "api_audit_entries", "admin:index"} <= names
    assert len(ADMIN_URLS) > 50


@pytest.mark.parametrize(("name", "path", "callback"), ALL_URLS, ids=[u[0] for u in ALL_URLS])
def test_anonymous_visitors_are_refused(admin_samples, client, name, path, callback):
    path = _object_path(name, path)
    response = client.get(path)
    if name in PUBLIC or _requirement(callback)["public"]:
        # /healthz answers 503 while no worker has reported; that is its job, not an error.
        assert response.status_code < 500 or name == "healthz"
        return
    if response.status_code == 302:
        assert "login" in response["Location"], f"{path} redirects anonymous visitors to {response['Location']}"
    else:
        assert response.status_code in (401, 403), f"{path} answered {response.status_code} to an anonymous visitor"


@pytest.mark.parametrize(("name", "path", "callback"), CONSOLE_URLS, ids=[u[0] for u in CONSOLE_URLS])
def test_every_console_view_declares_what_it_needs(name, path, callback):
    req = _requirement(callback)
    declared = req["permission"] or req["role"] or req["public"] or req["any_user"] or name in PUBLIC
    assert declared, (
        f"{name} ({path}) has no console_view(permission=/role=) nor public_view: it must say who may use it"
    )


def _allowed(user, req: dict) -> bool:
    if req["permission"]:
        return user.has_perm(req["permission"])
    if req["role"]:
        from mangaconsole.roles import user_has_role

        return user_has_role(user, req["role"])
    return True


@pytest.mark.parametrize(("name", "path", "callback"), CONSOLE_URLS, ids=[u[0] for u in CONSOLE_URLS])
def test_each_role_gets_403_exactly_where_it_lacks_the_permission(
    admin_samples, personas, client, name, path, callback
):
    path = _object_path(name, path)
    req = _requirement(callback)
    if name in PUBLIC or req["public"] or req["any_user"]:
        return
    for persona, user in personas.items():
        client.force_login(user)
        response = client.get(path)
        if _allowed(user, req):
            assert response.status_code != 403, f"{persona} may use {path} but got 403"
        else:
            assert response.status_code == 403, f"{persona} lacks {req} but {path} answered {response.status_code}"
    assert any(not _allowed(u, req) for u in personas.values()), f"every persona may use {name}: test proves nothing"


@pytest.mark.parametrize(("name", "path", "callback"), ADMIN_URLS, ids=[u[0] for u in ADMIN_URLS])
def test_admin_pages_refuse_a_user_without_the_permission(admin_samples, personas, client, name, path, callback):
    client.force_login(personas["nobody"])
    response = client.get(_object_path(name, path))
    if name in ADMIN_NOT_403 or name in PUBLIC:
        assert response.status_code in (200, 302, 404, 405), f"{name}: {response.status_code}"
        return
    if name.startswith("admin:<") and name.endswith("<path:object_id>/>"):
        # Django's old-style object URL: a redirect to .../change/, which is checked on its own.
        assert response.status_code == 302
        assert response["Location"].endswith("/change/")
        return
    assert response.status_code == 403, f"{path} answered {response.status_code} to a user with no permission"


def test_api_refuses_anonymous_with_401_and_a_role_without_permission_with_403(personas, client):
    assert client.get("/api/audit/entries/").status_code == 401
    client.force_login(personas[Role.ANNOTATOR])
    assert client.get("/api/audit/entries/").status_code == 403
    client.force_login(personas[Role.COMPLIANCE_OFFICER])
    assert client.get("/api/audit/entries/").status_code == 200


def test_api_accepts_a_token(personas, client):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=personas[Role.ONCALL_ENGINEER])
    response = client.get("/api/audit/verify/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["intact"] is True
