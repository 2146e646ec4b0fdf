"""The rollback and flag forms send their user back only to a path on this site (no open redirect)."""

import pytest

from mangaconsole.roles import Role
from tests.factories import make_user

OUTSIDE = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", OUTSIDE)
def test_a_foreign_next_falls_back_to_the_page_of_the_form(client, db, target):
    client.force_login(make_user("oncall-r", Role.ONCALL_ENGINEER))
    response = client.post("/releases/rollback/", {"reason": "drill", "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/releases/production/"
    response = client.post("/releases/flags/retrieval/", {"enabled": "on", "reason": "drill", "next": target})
    assert response["Location"] == "/releases/flags/"


def test_a_same_site_next_is_followed(client, db):
    client.force_login(make_user("oncall-r", Role.ONCALL_ENGINEER))
    response = client.post("/releases/rollback/", {"reason": "drill", "next": "/home/oncall_engineer/"})
    assert response["Location"] == "/home/oncall_engineer/"
