"""Brute force (S11): a locked account after ten wrong passwords, throttled token guesses, Django's
four password validators, and no demo accounts in production mode unless forced."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command

from audit.models import AuditAction, AuditEntry
from mangaconsole.roles import Role
from tests.factories import PASSWORD, make_user


def _sign_in(client, password):
    return client.post("/accounts/login/", {"username": "pm-lock", "password": password})


def test_ten_wrong_passwords_lock_the_account_with_a_message_then_the_right_one_works_after_the_cooloff(
    client, db, settings
):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    make_user("pm-lock", Role.PRODUCT_MANAGER)
    for _ in range(9):
        assert _sign_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = _sign_in(client, "wrong")  # the tenth
    assert locked.status_code == 429
    assert "10 wrong passwords in a row for pm-lock" in locked.content.decode()
    assert "sign-in is locked" in locked.content.decode()
    refused = _sign_in(client, PASSWORD)  # even the right password waits out the lock
    assert refused.status_code == 429
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKOUT)
    assert entry.target_id == "pm-lock"
    assert entry.after == {"locked": True, "failures": 10}
    time.sleep(2.2)
    assert _sign_in(client, PASSWORD).status_code == 302  # signed in after the cool-off
    assert client.get("/experiments/").status_code == 200


def test_token_guesses_are_throttled_before_the_token_is_looked_up(client, db, monkeypatch):
    from mangaconsole.access import TokenAttemptThrottle

    monkeypatch.setattr(TokenAttemptThrottle, "THROTTLE_RATES", {"token_attempt": "5/min"})
    codes = [client.get("/api/audit/verify/", HTTP_AUTHORIZATION=f"Token guess{i:036d}").status_code for i in range(7)]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    response = client.get("/api/audit/verify/", HTTP_AUTHORIZATION="Token another-guess")
    assert "Retry-After" in response


@pytest.mark.parametrize(
    ("password", "reason"),
    [("12345678901", "entirely numeric"), ("password", "too common"), ("short", "too short"), ("pm-lock-x", "similar")],
)
def test_the_four_password_validators_apply(db, password, reason):
    user = make_user("pm-lock-x")
    with pytest.raises(ValidationError, match=reason):
        validate_password(password, user)


def test_seed_demo_creates_no_demo_accounts_in_production_mode_unless_forced_and_then_prints_no_password(
    db, settings, capsys
):
    from django.contrib.auth import get_user_model

    settings.PRODUCTION = True
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "no demo accounts were created" in out
    assert not get_user_model().objects.filter(username__in=["pm", "admin"]).exists()
    call_command("seed_demo", force_demo_accounts=True)
    out = capsys.readouterr().out
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert "password not shown" in out
    assert "mangaassist" not in out.replace("mangaassist.example", "")
    assert not get_user_model().objects.get(username="pm").check_password("mangaassist")
