"""Every link on every role's pages leads somewhere that role may go: a crawl from each landing page
(issue 16) finds no 404, 405 or 500, and no 403 either: a page a role must not open is not linked for
it. Pages are filled with a little of everything (an evaluation run, a trace, an experiment, a batch,
a deployment) so their links are really there."""

from __future__ import annotations

import uuid
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import pytest
from django.utils import timezone

from chat.turn import SessionState, run_turn
from evaluation.annotation.services import batch_create
from evaluation.services import eval_run_create, eval_run_execute
from mangaconsole.roles import Role
from registry.rollout.deployments import deployment_start
from tests.factories import candidate_release, make_user, two_arm_experiment

SKIP = ("/accounts/logout", "/admin/logout", "/static/", "download.", "/report.md", "scores.csv", ".jsonl", "/api/")
MAX_PAGES = 60


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith(("#", "mailto:", "javascript:")):
                self.hrefs.append(href)


@pytest.fixture
def lived_in(serving, golden_small, settings):
    """A console with some history: an evaluation run, traced turns, an experiment, a batch."""

    settings.CHAT_TRACE_WRITES_INLINE = True
    run = eval_run_create(release=serving["release"], actor="t", queue=False)
    eval_run_execute(run.pk)
    for question in ("how much is Berserk Vol. 1?", "do you ship to Canada?", "where is my order?"):
        run_turn(SessionState(uuid.uuid4(), None, 10_000), question)
    candidate = candidate_release(actor="m")
    two_arm_experiment(candidate, name="crawl")
    deployment_start(release=candidate, actor="mleng", queue=False)
    batch_create(actor="t", start=timezone.now() - timedelta(days=1), end=timezone.now(), size=3, overlap_share=0)


@pytest.mark.parametrize("role", Role.ALL)
def test_no_link_on_a_roles_pages_is_broken_or_forbidden(client, lived_in, role):
    user = make_user(f"crawl-{role}", role, is_superuser=role == Role.ADMIN)
    client.force_login(user)
    start = f"/home/{role}/"
    queue, seen, problems = [start], set(), []
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow=False)
        code = response.status_code
        if code in (301, 302):
            location = response["Location"]
            if "/accounts/login/" in location:
                problems.append(f"{path} → sign-in")
            elif urlparse(location).netloc in ("", "testserver"):
                queue.append(
                    urlparse(location).path + (f"?{urlparse(location).query}" if urlparse(location).query else "")
                )
            continue
        if code == 503 and path == "/healthz":  # no worker in the test: that is /healthz doing its job
            continue
        if code != 200:
            problems.append(f"{path}: {code} (linked for {role})" if path != start else f"{path}: {code}")
            continue
        if "text/html" not in response.get("Content-Type", "") or path.startswith("/admin/"):
            continue  # the admin's own links are Django's: the console's links into it are checked
        parser = _Links()
        parser.feed(response.content.decode())
        for href in parser.hrefs:
            url = urlparse(urljoin(f"http://testserver{path}", href))
            if url.netloc != "testserver" or any(s in url.path for s in SKIP):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if target not in seen:
                queue.append(target)
    assert not problems, problems
    assert len(seen) >= 3
    print(f"{role}: {len(seen)} pages crawled, every link opens")
