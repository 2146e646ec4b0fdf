"""Issue 6's acceptance in Chromium, as the on-call engineer: take a release through the deployment
pipeline (real Celery worker, live stage logs, a person's approval), see the bot serve it, click
rollback, see the previous release serve the next turn, watch the post-rollback evaluation finish on
the production page, and find the alert sent and the rollback in the compliance officer's audit export.
"""

import csv
import time
from pathlib import Path

from celery.contrib.testing.worker import start_worker
from django.core import mail
from playwright.sync_api import expect

from chat.models import Trace
from mangaconsole.celery import app
from mangaconsole.roles import Role
from registry.models import ComponentKind, Deployment
from registry.selectors import release_for_alias
from registry.services import component_version_register, release_create
from tests.browser.test_chat_flow import _ask, asgi_server  # noqa: F401  (the daphne fixture)
from tests.factories import PASSWORD, make_user


def _login(browser, base_url, username, first_page):
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(first_page)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{first_page}")
    return context, page


def _served_release(browser, base_url) -> int:
    """One chat turn over the WebSocket; the release its trace names."""
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/chat/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').textContent.startsWith('Connected')"
    )
    trace_id = _ask(page, "how much is Berserk Vol. 1?", 1).get_attribute("data-trace-id")
    deadline = time.monotonic() + 10
    while not Trace.objects.filter(trace_id=trace_id).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    context.close()
    return Trace.objects.get(trace_id=trace_id).release


def test_oncall_promotes_through_the_pipeline_then_rolls_back(browser, asgi_server, golden_small, settings, tmp_path):  # noqa: F811
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_user("oncall-d", Role.ONCALL_ENGINEER)
    make_user("oncall-e", Role.ONCALL_ENGINEER)
    make_user("auditor-d", Role.COMPLIANCE_OFFICER)
    first = release_for_alias("production")
    version = component_version_register(
        kind=ComponentKind.GENERATOR,
        actor="mleng",
        framework="local grounded responder",
        config={"provider": "local", "model_id": "local-grounded-responder", "temperature": 0.0, "max_tokens": 350},
    )
    candidate = release_create(actor="mleng", versions=[version], based_on=first, notes="shorter answers")
    shots = Path(settings.VAR_DIR)

    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=30):
        ctx, page = _login(browser, asgi_server, "oncall-d", "/releases/deployments/")
        page.get_by_test_id("deploy-release").select_option(str(candidate.number))
        page.get_by_test_id("deploy-start").click()
        page.wait_for_url("**/releases/deployments/*/")
        # the stages advance on the worker while the page polls: the evaluation is seen running
        page.wait_for_function(
            "() => document.querySelector('[data-testid=stage-evaluate]').textContent === 'Running'", timeout=60_000
        )
        assert "verified" in page.get_by_test_id("log-build").inner_text()
        page.get_by_test_id("approval").wait_for(state="visible", timeout=120_000)
        for stage in ("build", "evaluate", "staging", "smoke"):
            assert page.get_by_test_id(f"stage-{stage}").inner_text() == "Passed"
        assert "'do you ship to Canada?' → faq" in page.get_by_test_id("log-smoke").inner_text()
        assert page.get_by_test_id("stage-approve").inner_text() == "Waiting for a person"
        assert release_for_alias("production").pk == first.pk
        # four eyes: whoever started the deployment cannot approve it
        assert page.get_by_test_id("approve").count() == 0
        assert "four-eyes rule" in page.get_by_test_id("four-eyes").inner_text()
        deployment = Deployment.objects.get()
        second_ctx, second = _login(browser, asgi_server, "oncall-e", f"/releases/deployments/{deployment.pk}/")
        second.get_by_test_id("approve").click()
        second.wait_for_function(
            "() => document.querySelector('[data-testid=deployment-state]').textContent === 'Promoted'", timeout=60_000
        )
        second_ctx.close()
        # the requester's page polls and reloads itself once the deployment finishes; a screenshot waits
        # for that, and on-call goes on in a new tab (a navigation could collide with the page's reload)
        expect(page.get_by_test_id("deployment-state")).to_have_text("Promoted", timeout=30_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "deployment-page.png"), full_page=True)
        deployment.refresh_from_db()
        assert deployment.approved_by == "oncall-e"
        assert release_for_alias("production").pk == candidate.pk
        time.sleep(1.5)  # daphne's alias cache lives 1 s
        assert _served_release(browser, asgi_server) == candidate.number

        # one click on the on-call landing page rolls production back
        page.close()
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.goto("/")
        page.get_by_test_id("rollback-reason").fill("drill: shorter answers confuse shoppers")
        page.get_by_test_id("rollback-button").click()
        page.get_by_text(f"Production now serves release {first.number}").wait_for()
        assert release_for_alias("production").pk == first.pk
        time.sleep(1.5)
        assert _served_release(browser, asgi_server) == first.number

        # the post-rollback evaluation completes and shows on the production page
        page.goto("/releases/production/")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = page.get_by_test_id("rollback-eval-status")
            if status.count() and status.first.inner_text() in ("Gate passed", "Gate failed", "Error"):
                break
            time.sleep(1)
            page.reload()
        assert page.get_by_test_id("rollback-eval-status").first.inner_text() == "Gate passed"
        rollbacks = page.get_by_test_id("rollbacks").inner_text()
        assert f"{candidate.number} → {first.number}" in rollbacks
        assert "email: sent to" in rollbacks
        page.screenshot(path=str(shots / "production-after-rollback.png"), full_page=True)
        ctx.close()

    alert = [m for m in mail.outbox if "rolled back" in m.subject]
    assert alert, [m.subject for m in mail.outbox]
    assert f"to release {first.number}" in alert[0].subject
    assert "shorter answers confuse shoppers" in alert[0].body

    # the compliance officer's audit export shows the rollback
    ctx, auditor = _login(browser, asgi_server, "auditor-d", "/audit/export/")
    auditor.select_option("#id_action", "registry.rollback")
    auditor.locator("#id_action").dispatch_event("change")
    auditor.wait_for_function("() => Number(document.querySelector('[data-testid=match-count]')?.textContent) >= 2")
    with auditor.expect_download() as info:
        auditor.get_by_test_id("download-csv").click()
    path = tmp_path / "audit.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert {r["actor"] for r in rows} == {"oncall-d", "system:rollback"}
    assert any("shorter answers confuse shoppers" in r["reason"] for r in rows)
    ctx.close()


def test_oncall_rolls_back_while_an_experiment_runs_and_ten_fresh_sessions_get_the_restored_release(
    browser,
    asgi_server,  # noqa: F811
    settings,
):
    """Issue 16: a rollback outranks a running experiment. Production is release B with a 50/50
    experiment (B against a gated arm C); on-call clicks rollback to A in Chromium; each of the next ten
    new shoppers is served A, and the PM's experiment page shows it paused with the reason."""
    from experiments.models import Experiment, Exposure
    from experiments.services import experiment_create, experiment_start
    from tests.factories import gate_passed, production_set

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_user("oncall-x", Role.ONCALL_ENGINEER)
    make_user("pm-x", Role.PRODUCT_MANAGER)
    first = release_for_alias("production")

    def cut(max_tokens, notes):
        version = component_version_register(
            kind=ComponentKind.GENERATOR,
            actor="mleng",
            framework="local",
            config={"provider": "local", "model_id": "local-grounded-responder", "max_tokens": max_tokens},
        )
        return gate_passed(release_create(actor="mleng", versions=[version], based_on=first, notes=notes))

    second, arm = cut(360, "second"), cut(370, "arm")
    production_set(second)
    experiment = experiment_create(
        actor="pm-x",
        name="arm against production",
        hypothesis="h",
        arms=[
            {"key": "control", "name": "Production", "release": second, "weight": 50},
            {"key": "arm1", "name": "Arm", "release": arm, "weight": 50},
        ],
    )
    experiment_start(experiment=experiment, actor="pm-x")
    time.sleep(1.5)  # daphne's alias and experiment caches live 1 s
    before = {_served_release(browser, asgi_server) for _ in range(6)}
    assert before <= {second.number, arm.number}, before
    assert Exposure.objects.filter(experiment=experiment).count() == 6  # every new shopper enrolled

    ctx, page = _login(browser, asgi_server, "oncall-x", "/releases/production/")
    page.get_by_test_id("rollback-reason").fill("drill: rollback during an experiment")
    page.get_by_test_id("rollback-button").click()
    page.get_by_text(f"Production now serves release {first.number}").wait_for()
    ctx.close()
    time.sleep(1.5)
    served = [_served_release(browser, asgi_server) for _ in range(10)]
    assert served == [first.number] * 10, served

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.PAUSED
    ctx, page = _login(browser, asgi_server, "pm-x", f"/experiments/{experiment.pk}/")
    expect(page.locator("main")).to_contain_text("Paused")
    expect(page.get_by_test_id("stop-reason")).to_contain_text(
        f"Paused by the rollback of production from release {second.number} to {first.number}"
    )
    page.screenshot(path=str(Path(settings.VAR_DIR) / "experiment-paused-by-rollback.png"), full_page=True)
    ctx.close()
