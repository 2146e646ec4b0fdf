"""Issue 15 in Chromium: a PM's promotion of an arm whose gate failed is refused with the reason; ten
wrong passwords lock the account with a clear page, and the right one signs in after the cool-off."""

import time
from datetime import timedelta

from playwright.sync_api import expect

from experiments.models import Experiment
from mangaconsole.roles import Role
from registry.selectors import release_for_alias
from registry.services import release_gate_record
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, candidate_release, make_user, two_arm_experiment


def test_a_pm_cannot_promote_an_arm_whose_gate_failed_and_is_told_why(page, serving):
    make_user("pm-gate", Role.PRODUCT_MANAGER)
    candidate = candidate_release()
    experiment = two_arm_experiment(candidate, actor="pm-gate", arm_name="Shorter")
    release_gate_record(release=candidate, run_id=77, passed=False)  # re-evaluated since: the gate failed
    log_in(page, "pm-gate", PASSWORD)
    page.goto(f"/experiments/{experiment.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())  # "Promote …?" asks first
    page.get_by_test_id("promote-arm1").click()
    expect(page.get_by_text("Nothing changed: release")).to_contain_text(
        f"release {candidate.number} failed its evaluation gate (run 77), so arm arm1 cannot be promoted"
    )
    assert Experiment.objects.get().status == Experiment.Status.DRAFT
    assert release_for_alias().pk != candidate.pk


def test_ten_wrong_passwords_lock_the_account_and_the_right_one_works_after_the_cooloff(page, db, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=3)
    make_user("oncall-lock", Role.ONCALL_ENGINEER)
    for attempt in range(1, 10):
        log_in(page, "oncall-lock", f"guess-{attempt}")
        expect(page.locator("p.bad")).to_contain_text("didn't match")
    log_in(page, "oncall-lock", "guess-10")
    expect(page.get_by_test_id("locked-out")).to_contain_text("10 wrong passwords in a row for oncall-lock")
    log_in(page, "oncall-lock", PASSWORD)  # the right password waits out the lock too
    expect(page.get_by_test_id("locked-out")).to_be_visible()
    time.sleep(3.2)
    log_in(page, "oncall-lock", PASSWORD)
    page.wait_for_url("**/home/oncall_engineer/")
