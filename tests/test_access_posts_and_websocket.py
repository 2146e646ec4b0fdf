"""Every console URL tried with POST by every role and anonymously, and the public WebSocket by
everyone, against a table written here from each role's job (README, "Roles"), not read from the
views: removing a role check from any one view, or letting a read-only page take a POST, fails it.

Expected answers:
- anonymous: 302 to the sign-in page (console) or 401 (API);
- a role the table does not list: 403;
- a listed role: 405 for a read-only page; anything under 400 (or a 400/404 about the data: the
  samples are empty forms and made-up ids) for a state-changing endpoint, never 401/403/405/5xx.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator

from mangaconsole.roles import Role
from tests.test_access_every_url import CONSOLE_URLS, _object_path, admin_samples  # noqa: F401

PM, ANN, QL, CO = Role.PRODUCT_MANAGER, Role.ANNOTATOR, Role.QUALITY_LEAD, Role.COMPLIANCE_OFFICER
OC, PE, ML, AD = Role.ONCALL_ENGINEER, Role.PROMPT_ENGINEER, Role.ML_ENGINEER, Role.ADMIN
TRACE_READERS = {PM, QL, CO, OC, PE, ML, AD}
EVAL_READERS = {QL, CO, OC, PE, ML, AD}
RELEASE_READERS = {PM, CO, OC, PE, ML, AD}
PROMPT_READERS = {CO, OC, PE, ML, AD}
BATCH_READERS = {QL, ML, AD}
AUDIT_READERS = {QL, CO, OC, PE, ML, AD}

# name: (kind, roles that may use it). "read": a page or JSON that changes nothing (POST → 405);
# "write": a state-changing endpoint; "public"/"any": no role needed (anyone / any signed-in user).
ACCESS = {
    "home": ("any", None),
    "login": ("public", None),
    "logout": ("public", None),
    "healthz": ("public", None),
    "favicon": ("public", None),
    "chat:chat": ("public", None),
    "api_schema": ("any", None),
    **{f"landing_{r}": ("read", {r}) for r in Role.ALL},  # each role's own landing page
    # compliance: the audit export
    "audit:export": ("read", {CO, AD}),
    "audit:export_preview": ("read", {CO, AD}),
    "audit:export_download": ("read", {CO, AD}),
    "api_audit_entries": ("read", AUDIT_READERS),
    "api_audit_verify": ("read", AUDIT_READERS),
    # traces and guardrails
    "chat:traces": ("read", TRACE_READERS),
    "chat:trace": ("read", TRACE_READERS),
    "guardrails:dashboard": ("read", {CO, OC, PE, ML, AD}),
    "guardrails:review": ("write", {CO, ML, AD}),
    # prompts: engineers write and review; ML engineers release; on-call and ML promote or roll back
    "prompts:index": ("read", PROMPT_READERS),
    "prompts:template": ("write", PROMPT_READERS),  # GET shows it; POST is a new version (checked inside)
    "prompts:version": ("read", PROMPT_READERS),
    "prompts:submit": ("write", {PE, ML, AD}),
    "prompts:approve": ("write", {PE, ML, AD}),
    "prompts:reject": ("write", {PE, ML, AD}),
    "prompts:evaluate": ("write", {PE, ML, AD}),
    "prompts:release": ("write", {PE, ML, AD}),
    "prompts:promote": ("write", {OC, ML, AD}),
    # offline evaluation
    "evaluation:index": ("read", EVAL_READERS),
    "evaluation:thresholds": ("write", {ML, AD}),
    "evaluation:run_new": ("write", {PE, ML, AD}),
    "evaluation:run": ("read", EVAL_READERS),
    "evaluation:run_progress": ("read", EVAL_READERS),
    "evaluation:run_report": ("read", EVAL_READERS),
    "api_eval_runs": ("write", {PE, ML, AD}),
    "api_eval_run": ("read", EVAL_READERS),
    # human evaluation: annotators score, the quality lead runs batches
    "evaluation:annotate": ("write", {ANN, AD}),
    "evaluation:annotate_skip": ("write", {ANN, AD}),
    "evaluation:annotate_renew": ("write", {ANN, AD}),
    "evaluation:batches": ("read", BATCH_READERS),
    "evaluation:batch_new": ("write", {QL, AD}),
    "evaluation:batch_from_traces": ("write", {QL, AD}),
    "evaluation:batch": ("read", BATCH_READERS),
    "evaluation:batch_progress": ("read", BATCH_READERS),
    "evaluation:batch_scores": ("read", BATCH_READERS),
    "evaluation:batch_close": ("write", {QL, AD}),
    "evaluation:batch_golden": ("write", {QL, AD}),
    "evaluation:batch_training": ("write", {QL, AD}),
    "evaluation:item_adjudicate": ("write", {QL, AD}),
    "evaluation:annotation_trends": ("read", BATCH_READERS),
    "evaluation:gate_adopt": ("write", {ML, AD}),
    "evaluation:training_export": ("read", BATCH_READERS),
    # releases: on-call rolls back and flips switches; ML and on-call deploy, approve, run canaries
    "registry:production": ("read", RELEASE_READERS),
    "registry:rollback": ("write", {OC, ML, AD}),
    "registry:flags": ("read", {CO, OC, PE, ML, AD}),
    "registry:flag_toggle": ("write", {OC, AD}),
    "registry:deployments": ("read", RELEASE_READERS),
    "registry:deployment_start": ("write", {OC, ML, AD}),
    "registry:deployment": ("read", RELEASE_READERS),
    "registry:deployment_progress": ("read", RELEASE_READERS),
    "registry:deployment_retry": ("write", {OC, ML, AD}),
    "registry:deployment_approve": ("write", {OC, ML, AD}),
    "registry:deployment_decline": ("write", {OC, ML, AD}),
    "registry:canary": ("read", {CO, OC, PE, ML, AD}),
    "registry:canary_start": ("write", {OC, ML, AD}),
    "registry:canary_step": ("write", {OC, ML, AD}),
    "registry:canary_promote": ("write", {OC, ML, AD}),
    "registry:canary_stop": ("write", {OC, ML, AD}),
    # experiments: the product manager's
    "experiments:index": ("read", {PM, AD}),
    "experiments:create": ("write", {PM, AD}),
    "experiments:detail": ("read", {PM, AD}),
    "experiments:results": ("read", {PM, AD}),
    "experiments:action": ("write", {PM, AD}),
    "api_events": ("write", {PM, AD}),
}


def test_the_table_covers_every_console_url():
    names = {name for name, _, _ in CONSOLE_URLS}
    assert names - set(ACCESS) == set(), "add the new URL to ACCESS: who may use it, and does it change state?"
    assert set(ACCESS) - names == set(), "ACCESS names a URL that no longer exists"


@pytest.mark.parametrize(("name", "path", "callback"), CONSOLE_URLS, ids=[u[0] for u in CONSOLE_URLS])
def test_every_role_and_a_stranger_get_the_expected_answer_to_a_post(
    admin_samples,  # noqa: F811
    personas,
    client,
    name,
    path,
    callback,
):
    kind, allowed = ACCESS[name]
    path = _object_path(name, path)
    api = name.startswith("api_")
    client.logout()
    anonymous = client.post(path, {}, content_type="application/json") if api else client.post(path, {})
    if kind == "public":
        assert anonymous.status_code < 500 or name == "healthz"
        return
    if api:
        assert anonymous.status_code == 401, f"anonymous POST {path}: {anonymous.status_code}"
    else:
        assert anonymous.status_code == 302, path
        assert "/accounts/login/" in anonymous["Location"], path
    if kind == "any":
        return
    for persona, user in personas.items():
        client.force_login(user)
        response = client.post(path, {}, content_type="application/json") if api else client.post(path, {})
        code = response.status_code
        if persona not in allowed:
            assert code == 403, f"{persona} POST {path}: {code}, expected 403 (not in the table's roles)"
        elif kind == "read":
            assert code == 405, f"{persona} POST {path}: {code}, expected 405 (a read-only page)"
        else:
            assert code not in (401, 403, 405), f"{persona} POST {path}: {code}"
            assert code < 500, f"{persona} POST {path}: {code}"


APP = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter(__import__("chat.routing").routing.websocket_urlpatterns))
)


def _connect(origin: bytes | None, session_cookie: str | None = None):
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    if session_cookie:
        headers.append((b"cookie", f"sessionid={session_cookie}".encode()))

    async def run():
        ws = WebsocketCommunicator(APP, "/ws/chat/", headers=headers)
        connected, code = await ws.connect()
        frame = await ws.receive_json_from(timeout=10) if connected else None
        if connected:
            await ws.send_to(text_data=json.dumps({"type": "ping"}))
            pong = await ws.receive_json_from(timeout=10)
            assert pong == {"type": "pong"}
        await ws.disconnect()
        return connected, frame

    return async_to_sync(run)()


def test_the_public_websocket_takes_everyone_from_this_site_and_no_other_origin(transactional_db, personas, client):
    connected, frame = _connect(b"http://testserver")
    assert connected  # a shopper: no login
    assert frame["type"] == "session"
    for persona, user in personas.items():
        client.force_login(user)
        connected, frame = _connect(b"http://testserver", client.cookies["sessionid"].value)
        assert connected, persona
        assert frame["type"] == "session"
    refused, _ = _connect(b"https://evil.example")
    assert not refused  # another site's page cannot drive a shopper's chat (CSWSH)
