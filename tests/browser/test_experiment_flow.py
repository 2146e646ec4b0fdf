"""Issue 7's acceptance in Chromium, as the product manager: create a 50/50 test of two prompt versions,
start it, run the simulator with a true 10% lift on the thumbs-up rate (a sample of its sessions over
the real WebSocket), watch the charts update and the test reach significance, promote the winner with
one click into the deployment pipeline, see it wait for an ML engineer who is not the PM (four eyes),
and after that approval see the next chat turn served by it."""

import threading
import time
from pathlib import Path

from celery.contrib.testing.worker import start_worker
from django.db import connection

from chat.models import Trace
from evaluation.prompts import prompt_version_approve
from evaluation.services import eval_run_execute
from experiments.management.simulation import simulate
from experiments.models import Experiment, Exposure
from mangaconsole.celery import app
from mangaconsole.roles import Role
from prompts_app.models import PromptTemplate
from prompts_app.services import latest_run, prompt_version_create, prompt_version_submit
from registry.models import Deployment
from registry.selectors import release_for_alias
from tests.browser.test_chat_flow import _ask, asgi_server  # noqa: F401  (the daphne fixture)
from tests.factories import PASSWORD, make_user


def _prompt_candidate():
    author, reviewer = make_user("prompt-x", Role.PROMPT_ENGINEER), make_user("mleng-x", Role.ML_ENGINEER)
    template = PromptTemplate.objects.get(name="faq")
    current = template.versions.order_by("-major", "-minor", "-patch").first()
    version = prompt_version_create(
        template=template,
        body=current.body.replace("in a few sentences", "in two short sentences"),
        few_shot=current.few_shot,
        bump="minor",
        change_description="shorter FAQ answers",
        changelog="faq: two short sentences",
        actor=author,
    )
    prompt_version_submit(version=version, actor=author)
    prompt_version_approve(version=version, actor=reviewer, comment="try it on real traffic")
    version.refresh_from_db()
    # its candidate's evaluation gate (queued by the approval) must pass before it may be an arm
    assert eval_run_execute(latest_run(version).pk).gate_passed
    return version


def test_a_product_manager_runs_an_ab_test_to_significance_and_promotes_it(
    browser,
    asgi_server,  # noqa: F811
    golden_small,
    settings,
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_user("pm-x", Role.PRODUCT_MANAGER)
    version = _prompt_candidate()
    candidate = version.candidate_release
    control = release_for_alias("production")

    context = browser.new_context(base_url=asgi_server)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/experiments/new/")
    page.fill("#id_username", "pm-x")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/experiments/new/")
    # a bad split is refused with the reason, and nothing is saved
    page.fill("#id_name", "FAQ: two short sentences")
    page.fill("#id_hypothesis", "Shorter FAQ answers earn more thumbs up.")
    page.fill("#id_control_weight", "50")
    page.select_option("#id_arm1_release", str(candidate.number))
    page.fill("#id_arm1_weight", "60")
    page.get_by_test_id("save-experiment").click()
    assert "The weights must add up to 100 (they add up to 110)." in page.get_by_test_id("problems").inner_text()
    assert not Experiment.objects.exists()
    page.fill("#id_arm1_weight", "50")
    page.get_by_test_id("save-experiment").click()
    page.get_by_test_id("start").click()
    page.wait_for_function("() => document.querySelector('[data-testid=experiment-status]').textContent === 'Running'")
    experiment = Experiment.objects.get()
    assert [(v.release_id, v.weight) for v in experiment.variants.order_by("order")] == [
        (control.pk, 50),
        (candidate.pk, 50),
    ]

    # the simulator: a true +10% on thumbs up in the variant; 6 sessions over the real WebSocket first
    ws_url = asgi_server.replace("http://", "ws://") + "/ws/chat/"
    outcome = {}

    def run():
        try:
            outcome["done"] = simulate(
                experiment,
                sessions=30_000,
                effects={"thumbs_up": 0.10},
                seed=11,
                ws_url=ws_url,
                ws_sample=6,
                check_every=500,
                pause_s=0.5,
            )
        except Exception as exc:
            outcome["error"] = exc
            raise
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    # the page polls every 3 s while the simulator runs: the charts are redrawn with growing traffic
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "error" not in outcome:
        ready = page.evaluate(
            "(window.experimentTicks || 0) >= 2 && document.getElementById('chart-traffic').data[0].y.some(v => v > 0)"
        )
        if ready:
            break
        page.wait_for_timeout(500)
    assert "error" not in outcome, outcome.get("error")
    assert ready, "the results page did not redraw its charts while the simulator ran"
    worker.join(timeout=600)
    done = outcome["done"]
    assert done["websocket"] == 6
    assert Trace.objects.filter(user_text__startswith="hi there").count() >= 6  # real turns, traced
    page.wait_for_function(
        "() => document.querySelector('[data-testid=experiment-status]').textContent === 'Stopped'", timeout=30_000
    )
    assert "Primary metric significant: arm arm1 wins" in page.get_by_test_id("stop-reason").inner_text()
    points = page.evaluate("document.getElementById('chart-effect').data[2].y.length")
    assert points == 12
    assert page.get_by_test_id("decision-thumbs_up-arm1").inner_text() == "significant"
    units = Exposure.objects.filter(experiment=experiment).count()
    assert units == done["sessions"]
    page.screenshot(path=str(Path(settings.VAR_DIR) / "experiment-page.png"), full_page=True)

    # one path to production: the winner enters the deployment pipeline and waits for a second person
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=30):
        page.once("dialog", lambda dialog: dialog.accept())  # "Promote …?" asks first
        page.get_by_test_id("promote-arm1").click()
        page.get_by_text(
            f"Release {candidate.number} (Arm 1 (release {candidate.number})) entered the deployment"
        ).wait_for()
        assert page.get_by_test_id("experiment-status").inner_text() == "Archived"
        assert release_for_alias("production").pk == control.pk
        deployment = Deployment.objects.get()
        assert deployment.requested_by == "pm-x"
        page.get_by_test_id("promotion-deployment").click()
        page.get_by_test_id("approval").wait_for(state="visible", timeout=120_000)
        assert "four-eyes rule" in page.get_by_test_id("four-eyes").inner_text()
        assert page.get_by_test_id("approve").count() == 0
        page.screenshot(path=str(Path(settings.VAR_DIR) / "experiment-promotion-waits.png"), full_page=True)
        assert release_for_alias("production").pk == control.pk

        approver_ctx = browser.new_context(base_url=asgi_server)
        approver = approver_ctx.new_page()
        approver.set_default_timeout(30_000)
        approver.goto(f"/releases/deployments/{deployment.pk}/")
        approver.fill("#id_username", "mleng-x")
        approver.fill("#id_password", PASSWORD)
        approver.click("button[type=submit]")
        approver.get_by_test_id("approve").click()
        approver.wait_for_function(
            "() => document.querySelector('[data-testid=deployment-state]').textContent === 'Promoted'", timeout=60_000
        )
        approver_ctx.close()
    assert release_for_alias("production").pk == candidate.pk
    assert Deployment.objects.get().approved_by == "mleng-x"
    time.sleep(1.5)  # daphne's alias cache lives 1 s

    chat = context.new_page()
    chat.goto("/chat/")
    chat.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').textContent.startsWith('Connected')"
    )
    trace_id = _ask(chat, "do you ship to Canada?", 1).get_attribute("data-trace-id")
    deadline = time.monotonic() + 10
    while not Trace.objects.filter(trace_id=trace_id).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    trace = Trace.objects.get(trace_id=trace_id)
    assert trace.release == candidate.number
    assert trace.versions["prompt"].startswith(f"faq@{version.label.split('@')[-1]}")
    context.close()
